"""The settings of this process, installed by ``create_app`` (web and worker alike).

Jobs run outside a request, so they read settings here rather than from Flask.
"""

from __future__ import annotations

from contact_center.settings import Settings

_current: list[Settings] = []


def install(settings: Settings) -> None:
    _current[:] = [settings]


def current_settings() -> Settings:
    if not _current:
        raise RuntimeError("no settings installed: build the app with create_app() first")
    return _current[0]
