"""Signed, expiring links to the patient's reschedule page (itsdangerous).

The token carries the appointment id and the start it was made for, signed with the service's
secret key: without a valid token the page reveals nothing, and once the appointment has moved
(by this page or a coordinator) the old link stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "appointment-reschedule"
PATH = "/r/"


@dataclass(frozen=True)
class LinkClaim:
    appointment_id: int
    for_start: datetime


@dataclass(frozen=True)
class Links:
    """Makes and reads reschedule links; built from the settings by the view that needs it."""

    secret_key: str
    base_url: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret_key, salt=SALT)

    def token(self, appointment_id: int, for_start: datetime, expires: datetime) -> str:
        # The expiry is signed in (the product's clock, which tests and demos may pin).
        return self._serializer().dumps(
            {"a": appointment_id, "s": for_start.isoformat(), "e": int(expires.timestamp())}
        )

    def url(
        self, appointment_id: int, for_start: datetime, valid_for: timedelta, now: datetime
    ) -> str:
        token = self.token(appointment_id, for_start, now + valid_for)
        return self.base_url.rstrip("/") + PATH + token

    def read(self, token: str, now: datetime) -> LinkClaim | None:
        """The claim of a valid, unexpired token; None for anything else (never raises)."""
        try:
            data = self._serializer().loads(token)
            if int(data["e"]) < now.timestamp():
                return None
            return LinkClaim(int(data["a"]), datetime.fromisoformat(str(data["s"])))
        except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
            return None
