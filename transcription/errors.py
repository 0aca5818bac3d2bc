"""Errors raised by the transcription package."""


class TranscriptionError(Exception):
    """A recording could not be decoded or recognized (bad audio, missing or broken model)."""
