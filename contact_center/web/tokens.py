"""Softphone access tokens: the Voice SDK registers with these (identity = the coordinator).

Signed with an API key when one is configured (``TWILIO_API_KEY_SID`` / ``_SECRET``), else
with the account SID and auth token; ``TWILIO_TWIML_APP_SID`` enables outgoing calls from the
browser. In sandbox mode the same kind of token is made so the
sandbox device goes through the same motions (fetch, register, refresh before expiry).
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from contact_center.settings import Settings

TOKEN_TTL_S = 3600
# The browser asks for a new token this long before the current one expires.
REFRESH_BEFORE_S = 60


@dataclass(frozen=True)
class SoftphoneToken:
    token: str
    identity: str
    ttl: int
    refresh_before: int
    sandbox: bool


def voice_token(settings: Settings, identity: str, ttl: int = TOKEN_TTL_S) -> SoftphoneToken:
    """A Voice access token for ``identity`` with incoming calls allowed."""
    token = AccessToken(
        settings.twilio_account_sid,
        settings.twilio_api_key_sid or settings.twilio_account_sid,
        settings.twilio_api_key_secret or settings.twilio_auth_token,
        identity=identity,
        ttl=ttl,
    )
    token.add_grant(
        VoiceGrant(
            incoming_allow=True,
            outgoing_application_sid=settings.twilio_twiml_app_sid or None,
        )
    )
    return SoftphoneToken(token.to_jwt(), identity, ttl, REFRESH_BEFORE_S, settings.sandbox)
