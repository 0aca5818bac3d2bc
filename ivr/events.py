"""Typed events made from Twilio's webhook forms (no Flask: a plain mapping in)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contact_center import parsing
from contact_center.errors import InvalidInput

_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")


def _call_sid(form: Mapping[str, str], name: str = "CallSid") -> str:
    sid = parsing.token(form.get(name))
    if not _CALL_SID.match(sid):
        raise InvalidInput(f"{name} missing or malformed: {sid[:40]!r}", name)
    return sid


def _optional_sid(form: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str | None:
    sid = parsing.token(form.get(name))
    return sid if pattern.match(sid) else None


def _float(form: Mapping[str, str], name: str) -> float | None:
    return parsing.number(form.get(name), low=0.0, high=1.0)


def _int(form: Mapping[str, str], name: str) -> int | None:
    return parsing.integer(form.get(name))


def _number(form: Mapping[str, str], name: str) -> str:
    """A phone number as Twilio sent it; an overlong one is unknown (it fits no column)."""
    return parsing.token(form.get(name), 32)


@dataclass(frozen=True)
class IncomingCall:
    call_sid: str
    from_number: str
    to_number: str
    status: str

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> IncomingCall:
        to = _number(form, "To")
        if not to:
            raise InvalidInput("To missing", "To")
        return cls(
            call_sid=_call_sid(form),
            from_number=_number(form, "From"),
            to_number=to,
            status=parsing.choice(form.get("CallStatus"), parsing.CALL_STATUSES) or "ringing",
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
            digits=parsing.line(form.get("Digits"), 16) or None,
            speech=parsing.line(form.get("SpeechResult"), 1000) or None,
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
            dial_status=parsing.choice(form.get("DialCallStatus"), parsing.DIAL_STATUSES)
            or "failed",
            dial_call_sid=_optional_sid(form, "DialCallSid", _CALL_SID),
            duration_s=_int(form, "DialCallDuration"),
        )


@dataclass(frozen=True)
class VoicemailLeft:
    call_sid: str
    recording_sid: str | None
    duration_s: int

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> VoicemailLeft:
        return cls(
            call_sid=_call_sid(form),
            recording_sid=_optional_sid(form, "RecordingSid", _RECORDING_SID),
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
        return cls(
            call_sid=_call_sid(form),
            status=parsing.choice(form.get("CallStatus"), parsing.CALL_STATUSES) or "",
            duration_s=_int(form, "CallDuration"),
            parent_call_sid=_optional_sid(form, "ParentCallSid", _CALL_SID),
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
        sid = _optional_sid(form, "RecordingSid", _RECORDING_SID)
        if sid is None:
            raise InvalidInput("RecordingSid missing or malformed", "RecordingSid")
        status = parsing.choice(
            form.get("RecordingStatus") or "completed", parsing.RECORDING_STATUSES
        )
        if status is None:
            raise InvalidInput("RecordingStatus unknown", "RecordingStatus")
        return cls(
            call_sid=_call_sid(form),
            recording_sid=sid,
            status=status,
            url=parsing.text(form.get("RecordingUrl"), 2000).strip(),
            channels=parsing.integer(form.get("RecordingChannels"), low=1, high=2) or 1,
            duration_s=_int(form, "RecordingDuration"),
        )
