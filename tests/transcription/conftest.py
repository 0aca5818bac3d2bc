"""Fixtures for the transcription tests: Festival-synthesized calls, cached per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_center.settings import Settings
from tests.speech import SHORT_CALL, SynthCall, build_call, festival_available
from transcription.engines import Engine
from transcription.jobs import engine_for


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where synthesized lines and calls are kept for the whole session."""
    if not festival_available():
        # `make test` installs them; a machine without them must fail, not silently skip.
        pytest.fail(
            "Festival (text2wave) and sox are needed: run `make test`, which installs "
            "festival festvox-us-slt-hts festvox-kallpc16k sox"
        )
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def short_call(speech_cache: Path) -> SynthCall:
    """Four alternating turns at 8 kHz through the mu-law codec, patient left, coordinator right."""
    return build_call(
        SHORT_CALL, speech_cache / "short-call.wav", speech_cache, 8000, telephone=True
    )


@pytest.fixture(scope="session")
def speech_engine(settings: Settings) -> Engine:
    """The built-in Whisper engine as the worker loads it: one model for the whole session,
    the same object the transcription job gets."""
    return engine_for(settings)
