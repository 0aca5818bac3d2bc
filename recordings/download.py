"""Fetching a recording's audio from Twilio, and nothing else (no SSRF).

The RecordingUrl in a callback is only a claim about which recording to fetch. It must name
Twilio's API host (``https://api.twilio.com``), our account and the callback's RecordingSid, or
the recording is refused; then the URL is discarded and the one fetched is rebuilt from the
checked SIDs, so a forged or odd URL (another host, ``user@host`` tricks, extra query, path
traversal) can never steer the request.

Where requests for Twilio's host go is ``Settings.twilio_api_base``: Twilio's host itself, unless
a test installs a local stand-in that plays it. The settings allow that outside production only
(plain HTTP only on the loopback interface); it never comes from the webhook, and a webhook naming
the stand-in's address is refused like any other host.

Errors: ``DownloadRefused`` is permanent (wrong host or account, too big, not a WAV file): the
recording is marked refused and not retried. ``DownloadFailed`` is transient (network, timeout,
5xx, 404 before the media is ready): it propagates so RQ retries the job with backoff.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from contact_center.errors import DomainError
from contact_center.settings import TWILIO_API_BASE, Settings

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
# A recording of an hour is ~115 MB of 8 kHz 16-bit stereo; at a slow 1 MB/s that is 2 minutes.
TOTAL_DEADLINE_S = 600.0
CHUNK_BYTES = 64 * 1024
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_MEDIA_PATH = re.compile(
    r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Recordings/(RE[0-9a-fA-F]{32})"
    r"(?:\.(?:wav|mp3|json))?$"
)
_REDIRECTS = (301, 302, 303, 307, 308)


class DownloadRefused(DomainError):
    """The recording must not be fetched from where it points (or is not acceptable audio)."""


class DownloadFailed(Exception):
    """A transient failure: worth retrying later."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise DownloadRefused(f"malformed port in {url[:80]!r}") from exc
        return cls(scheme, (parts.hostname or "").lower(), port)


def api_base(settings: Settings) -> str:
    """Where requests for Twilio's API host go; raises DownloadRefused for an unsafe setting."""
    base = settings.twilio_api_base.rstrip("/")
    if base == TWILIO_API_BASE:
        return base
    if settings.is_production:
        raise DownloadRefused(f"production downloads only from {TWILIO_API_BASE}, not {base}")
    origin = Origin.of(base)
    if origin.scheme != "https" and not (origin.scheme == "http" and origin.host in _LOOPBACK):
        raise DownloadRefused(f"recording API base {base} must be https (or http on loopback)")
    return base


def media_url(
    recording_url: str, *, recording_sid: str, account_sid: str, base: str, channels: int
) -> str:
    """The URL to fetch for this recording on ``base`` (see ``api_base``).

    Raises DownloadRefused unless ``recording_url`` is a media URL on Twilio's API host for our
    account and this RecordingSid.
    """
    parts = urlsplit(recording_url)
    if parts.username is not None or parts.password is not None:
        raise DownloadRefused("RecordingUrl carries credentials: refused")
    if Origin.of(recording_url) != Origin.of(TWILIO_API_BASE):
        raise DownloadRefused(
            f"RecordingUrl host {parts.scheme}://{parts.netloc} is not {TWILIO_API_BASE}: refused"
        )
    match = _MEDIA_PATH.match(parts.path)
    if match is None:
        raise DownloadRefused(f"RecordingUrl path {parts.path[:120]!r} is not a recording")
    if match.group(1) != account_sid:
        raise DownloadRefused("RecordingUrl belongs to another Twilio account: refused")
    if match.group(2) != recording_sid:
        raise DownloadRefused("RecordingUrl names another recording than the callback: refused")
    # A dual-channel recording is asked for as such (Twilio may otherwise mix it down).
    query = "?RequestedChannels=2" if channels == 2 else ""
    return f"{base}/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}.wav{query}"


def fetch_media(
    url: str,
    auth: tuple[str, str],
    *,
    max_bytes: int,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
    deadline_s: float = TOTAL_DEADLINE_S,
) -> Iterator[bytes]:
    """Yield the WAV body in chunks, with the account's credentials over ``url``'s origin.

    One redirect is followed only if it stays on the same origin (credentials never leave it).
    Raises DownloadRefused past ``max_bytes`` (declared or actual) or for a body that is not a
    WAV file; DownloadFailed on network errors, timeouts, HTTP errors, or past ``deadline_s``.
    """
    started = time.monotonic()
    origin = Origin.of(url)
    with requests.Session() as http:
        http.trust_env = False  # no proxy, .netrc or CA overrides from the environment
        response = _get(http, url, auth, connect_timeout_s, read_timeout_s)
        if response.status_code in _REDIRECTS:
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if Origin.of(target) != origin or not _MEDIA_PATH.match(urlsplit(target).path):
                raise DownloadRefused(f"redirect to {urlsplit(target).netloc} refused")
            response = _get(http, target, auth, connect_timeout_s, read_timeout_s)
        with response:
            if response.status_code != 200:
                raise DownloadFailed(f"HTTP {response.status_code} from {origin.host}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadRefused(f"recording of {declared} bytes exceeds the {max_bytes} cap")
            received = 0
            header = b""
            try:
                for chunk in response.iter_content(CHUNK_BYTES):
                    if len(header) < 12:
                        header += chunk[: 12 - len(header)]
                        if len(header) == 12 and not _is_wav(header):
                            raise DownloadRefused("downloaded media is not a WAV file")
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadRefused(f"recording exceeds the {max_bytes}-byte cap")
                    if time.monotonic() - started > deadline_s:
                        raise DownloadFailed(f"download slower than {deadline_s:.0f} s")
                    yield chunk
            except requests.RequestException as exc:
                raise DownloadFailed(f"download interrupted: {exc}") from exc
            if len(header) < 12:
                raise DownloadFailed(f"response body of {received} bytes is too short")


def _is_wav(header: bytes) -> bool:
    return header[:4] == b"RIFF" and header[8:12] == b"WAVE"


def _get(
    http: requests.Session, url: str, auth: tuple[str, str], connect_s: float, read_s: float
) -> requests.Response:
    try:
        return http.get(
            url, auth=auth, stream=True, timeout=(connect_s, read_s), allow_redirects=False
        )
    except requests.RequestException as exc:
        raise DownloadFailed(f"cannot reach {Origin.of(url).host}: {exc}") from exc
