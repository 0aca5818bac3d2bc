"""Typed events made from Twilio's messaging webhook forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contact_center import parsing
from contact_center.errors import InvalidInput

_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


def _message_sid(form: Mapping[str, str]) -> str:
    sid = parsing.token(form.get("MessageSid") or form.get("SmsSid"))
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
        to = parsing.token(form.get("To"), 32)
        sender = parsing.token(form.get("From"), 32)
        if not to or not sender:
            raise InvalidInput("From and To are required", "To" if not to else "From")
        # A NUL or a broken character is dropped, never the patient's text.
        return cls(_message_sid(form), sender, to, parsing.text(form.get("Body"), 1600))


@dataclass(frozen=True)
class SmsStatus:
    message_sid: str
    status: str
    error_code: str | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> SmsStatus:
        return cls(
            _message_sid(form),
            parsing.choice(
                form.get("MessageStatus") or form.get("SmsStatus"), parsing.MESSAGE_STATUSES
            )
            or "",
            parsing.token(form.get("ErrorCode"), 16) or None,
        )
