"""Typed events made from Twilio's messaging webhook forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contact_center.errors import InvalidInput

_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


def _message_sid(form: Mapping[str, str]) -> str:
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not _MESSAGE_SID.match(sid):
        raise InvalidInput(f"MessageSid missing or malformed: {sid[:40]!r}", "MessageSid")
    return sid


@dataclass(frozen=True)
class InboundSms:
    message_sid: str
    from_number: str
    to_number: str
    body: str

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> InboundSms:
        to = (form.get("To") or "").strip()
        sender = (form.get("From") or "").strip()
        if not to or not sender:
            raise InvalidInput("From and To are required", "To" if not to else "From")
        return cls(_message_sid(form), sender, to, (form.get("Body") or "")[:1600])


@dataclass(frozen=True)
class SmsStatus:
    message_sid: str
    status: str
    error_code: str | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> SmsStatus:
        return cls(
            _message_sid(form),
            (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower(),
            (form.get("ErrorCode") or "").strip() or None,
        )
