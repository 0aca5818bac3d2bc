"""Typed events made from Twilio's webhook forms (no Flask: a plain mapping in)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contact_center.errors import InvalidInput

_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")


def _call_sid(form: Mapping[str, str], name: str = "CallSid") -> str:
    sid = (form.get(name) or "").strip()
    if not _CALL_SID.match(sid):
        raise InvalidInput(f"{name} missing or malformed: {sid[:40]!r}", name)
    return sid


def _float(form: Mapping[str, str], name: str) -> float | None:
    raw = (form.get(name) or "").strip()
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _int(form: Mapping[str, str], name: str) -> int | None:
    raw = (form.get(name) or "").strip()
    return int(raw) if raw.isdigit() else None


@dataclass(frozen=True)
class IncomingCall:
    call_sid: str
    from_number: str
    to_number: str
    status: str

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> IncomingCall:
        to = (form.get("To") or "").strip()
        if not to:
            raise InvalidInput("To missing", "To")
        return cls(
            call_sid=_call_sid(form),
            from_number=(form.get("From") or "").strip(),
            to_number=to,
            status=(form.get("CallStatus") or "ringing").strip(),
        )


@dataclass(frozen=True)
class GatherAnswer:
    """What a caller said or pressed at a <Gather>; both empty means silence."""

    call_sid: str
    digits: str | None
    speech: str | None
    confidence: float | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> GatherAnswer:
        return cls(
            call_sid=_call_sid(form),
            digits=(form.get("Digits") or "").strip() or None,
            speech=(form.get("SpeechResult") or "").strip() or None,
            confidence=_float(form, "Confidence"),
        )


@dataclass(frozen=True)
class DialOutcome:
    call_sid: str
    dial_status: str
    dial_call_sid: str | None
    duration_s: int | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> DialOutcome:
        return cls(
            call_sid=_call_sid(form),
            dial_status=(form.get("DialCallStatus") or "failed").strip(),
            dial_call_sid=(form.get("DialCallSid") or "").strip() or None,
            duration_s=_int(form, "DialCallDuration"),
        )


@dataclass(frozen=True)
class VoicemailLeft:
    call_sid: str
    recording_sid: str | None
    duration_s: int

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> VoicemailLeft:
        sid = (form.get("RecordingSid") or "").strip()
        return cls(
            call_sid=_call_sid(form),
            recording_sid=sid if _RECORDING_SID.match(sid) else None,
            duration_s=_int(form, "RecordingDuration") or 0,
        )


@dataclass(frozen=True)
class StatusUpdate:
    """A call status callback: for the caller's call, or (with ``leg``) a coordinator's leg."""

    call_sid: str
    status: str
    duration_s: int | None
    parent_call_sid: str | None = None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> StatusUpdate:
        parent = (form.get("ParentCallSid") or "").strip()
        return cls(
            call_sid=_call_sid(form),
            status=(form.get("CallStatus") or "").strip(),
            duration_s=_int(form, "CallDuration"),
            parent_call_sid=parent if _CALL_SID.match(parent) else None,
        )


@dataclass(frozen=True)
class RecordingStatus:
    call_sid: str
    recording_sid: str
    status: str
    url: str
    channels: int
    duration_s: int | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> RecordingStatus:
        sid = (form.get("RecordingSid") or "").strip()
        if not _RECORDING_SID.match(sid):
            raise InvalidInput(f"RecordingSid missing or malformed: {sid[:40]!r}", "RecordingSid")
        return cls(
            call_sid=_call_sid(form),
            recording_sid=sid,
            status=(form.get("RecordingStatus") or "completed").strip(),
            url=(form.get("RecordingUrl") or "").strip(),
            channels=_int(form, "RecordingChannels") or 1,
            duration_s=_int(form, "RecordingDuration"),
        )
