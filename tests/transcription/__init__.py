"""Tests for the transcription package."""
