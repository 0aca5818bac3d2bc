"""Settings: one frozen object from the environment; production fails fast, naming what is
missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_center.settings import EMBEDDED_REDIS, Settings, SettingsError


def test_development_defaults_are_embedded_and_sandboxed(tmp_path: Path) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'contact_center.sqlite3'}"
    assert settings.redis_url == EMBEDDED_REDIS
    assert settings.sandbox is True
    assert settings.recordings_dir == tmp_path / "recordings"
    # The local secrets are stable across restarts (kept under var/).
    again = Settings.from_env({"VAR_DIR": str(tmp_path)})
    assert again.secret_key == settings.secret_key and len(settings.secret_key) == 64
    assert again.twilio_auth_token == settings.twilio_auth_token
    with pytest.raises(AttributeError):
        settings.env = "production"  # type: ignore[misc]


def test_production_names_every_missing_setting_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(
            {
                "APP_ENV": "production",
                "VAR_DIR": str(tmp_path),
                "DATABASE_URL": "postgresql+psycopg://db/cc",
                "SECRET_KEY": " ",
            }
        )
    assert str(error.value) == (
        "missing required settings for production: REDIS_URL, TWILIO_ACCOUNT_SID, "
        "TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, SECRET_KEY, RECORDINGS_KEY"
    )


def test_production_with_everything_is_live_twilio(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "APP_ENV": "production",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://db/cc",
            "REDIS_URL": "redis://r:6379/0",
            "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
            "TWILIO_AUTH_TOKEN": "tok",
            "PUBLIC_BASE_URL": "https://cc.example.com/",
            "SECRET_KEY": "s3cret",
            "VOSK_MODEL_PATH": "/models/vosk-en",
            "RECORDINGS_DIR": "/data/rec",
            "RECORDINGS_KEY": "ab" * 32,
        }
    )
    assert settings.sandbox is False and settings.is_production
    assert settings.public_base_url == "https://cc.example.com"
    assert settings.vosk_model_path == "/models/vosk-en"
    assert settings.recordings_dir == Path("/data/rec")


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="APP_ENV"):
        Settings.from_env({"APP_ENV": "staging", "VAR_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="RING_TIMEOUT_S"):
        Settings.from_env({"RING_TIMEOUT_S": "soon", "VAR_DIR": str(tmp_path)})
