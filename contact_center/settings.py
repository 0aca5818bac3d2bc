"""All settings, read from the environment in one place.

Nothing else in the product reads ``os.environ``. Two modes:

- development (the default): with no ``DATABASE_URL`` a SQLite file and with no ``REDIS_URL`` an
  embedded Redis, both under ``./var``; with no Twilio credentials the REST adapter records
  requests instead of sending them (sandbox mode).
- production (``APP_ENV=production``): every setting a real deployment needs is required, and a
  missing one stops the process at start with a message naming all of them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

EMBEDDED_REDIS = "embedded"

PRODUCTION_REQUIRED = (
    "DATABASE_URL",
    "REDIS_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "PUBLIC_BASE_URL",
    "SECRET_KEY",
    "RECORDINGS_KEY",
)

# The only origin recordings are downloaded from in production (see recordings/download.py).
TWILIO_API_BASE = "https://api.twilio.com"
VOSK_MODEL_SITE = "https://alphacephei.com/vosk/models"


class SettingsError(RuntimeError):
    """The environment does not describe a runnable deployment."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the product. Built once by ``from_env`` (or by tests, directly)."""

    env: str
    database_url: str
    redis_url: str
    twilio_account_sid: str
    twilio_auth_token: str
    public_base_url: str
    secret_key: str
    var_dir: Path
    recordings_dir: Path
    vosk_model_path: str | None = None
    sandbox: bool = True
    # Sandbox demo only: the worker rings the console's sandbox softphones for the calls the
    # dialer places (set by ``make run``; tests and benchmarks play those calls themselves).
    sandbox_softphones: bool = False
    # Seconds a coordinator's browser may stay silent before the server sets it offline.
    heartbeat_timeout_s: int = 45
    # Default ring timeout of a coordinator's softphone.
    ring_timeout_s: int = 20
    # Recordings at rest: AES-256-GCM key, 64 hex characters (``openssl rand -hex 32``).
    recordings_key: str = ""
    # Where recording media may come from. Not read from the environment: only tests point it
    # at a local stand-in for Twilio, and production refuses anything but TWILIO_API_BASE.
    twilio_api_base: str = TWILIO_API_BASE
    recording_max_bytes: int = 256 * 1024 * 1024
    # Vosk models installed by ``flask transcription install-model`` (site overridable in tests).
    vosk_models_dir: Path | None = None
    vosk_model_site: str = VOSK_MODEL_SITE
    # Softphone access tokens are signed with an API key; a TwiML app enables outgoing calls.
    twilio_api_key_sid: str = ""
    twilio_api_key_secret: str = ""
    twilio_twiml_app_sid: str = ""
    # A reservation nobody acts on expires after this long (0: ring timeout + 40 s).
    reservation_timeout_s: int = 0
    routing_reconcile_every_s: int = 15
    # Hold audio for queued callers (empty: the default classical loop Twilio hosts).
    hold_music_url: str = ""
    # Failed console logins allowed per account (the email typed) and per client address, in
    # the limits library's notation; past them the login page says when to try again.
    login_limit_per_account: str = "10 per 15 minutes"
    login_limit_per_address: str = "50 per 15 minutes"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the environment; raise ``SettingsError`` naming every missing required variable."""
        env = dict(os.environ if environ is None else environ)
        mode = env.get("APP_ENV", "development").strip() or "development"
        if mode not in ("development", "production", "test"):
            raise SettingsError(f"APP_ENV must be development, production or test, not {mode!r}")
        if mode == "production":
            missing = [name for name in PRODUCTION_REQUIRED if not env.get(name, "").strip()]
            if missing:
                raise SettingsError(
                    "missing required settings for production: " + ", ".join(missing)
                )
        var_dir = Path(env.get("VAR_DIR", "var")).resolve()
        account_sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
        auth_token = env.get("TWILIO_AUTH_TOKEN", "").strip()
        sandbox = not (account_sid and auth_token)
        if sandbox:
            # The simulator signs its webhooks with this token, so validation is never skipped.
            account_sid = account_sid or "AC" + "0" * 32
            auth_token = auth_token or _local_secret(var_dir, "sandbox_auth_token")
        secret_key = env.get("SECRET_KEY", "").strip() or _local_secret(var_dir, "secret_key")
        return cls(
            env=mode,
            database_url=env.get("DATABASE_URL", "").strip()
            or f"sqlite:///{var_dir / 'contact_center.sqlite3'}",
            redis_url=env.get("REDIS_URL", "").strip() or EMBEDDED_REDIS,
            twilio_account_sid=account_sid,
            twilio_auth_token=auth_token,
            public_base_url=(
                env.get("PUBLIC_BASE_URL", "").strip() or "http://127.0.0.1:5000"
            ).rstrip("/"),
            secret_key=secret_key,
            var_dir=var_dir,
            recordings_dir=Path(env.get("RECORDINGS_DIR", "").strip() or var_dir / "recordings"),
            vosk_model_path=env.get("VOSK_MODEL_PATH", "").strip() or None,
            twilio_api_key_sid=env.get("TWILIO_API_KEY_SID", "").strip(),
            twilio_api_key_secret=env.get("TWILIO_API_KEY_SECRET", "").strip(),
            twilio_twiml_app_sid=env.get("TWILIO_TWIML_APP_SID", "").strip(),
            sandbox=sandbox,
            sandbox_softphones=sandbox
            and env.get("SANDBOX_SOFTPHONES", "").strip().lower() in ("1", "true", "yes"),
            heartbeat_timeout_s=_int(env, "HEARTBEAT_TIMEOUT_S", 45),
            ring_timeout_s=_int(env, "RING_TIMEOUT_S", 20),
            reservation_timeout_s=_int(env, "RESERVATION_TIMEOUT_S", 0),
            routing_reconcile_every_s=_int(env, "ROUTING_RECONCILE_EVERY_S", 15),
            hold_music_url=env.get("HOLD_MUSIC_URL", "").strip(),
            login_limit_per_account=_limit(env, "LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),
            login_limit_per_address=_limit(env, "LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes"),
            recordings_key=_hex_key(
                env.get("RECORDINGS_KEY", "").strip() or _local_secret(var_dir, "recordings_key"),
                "RECORDINGS_KEY",
            ),
            recording_max_bytes=_int(env, "RECORDING_MAX_BYTES", 256 * 1024 * 1024),
            vosk_models_dir=Path(env.get("VOSK_MODELS_DIR", "").strip() or var_dir / "models"),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many

    raw = env.get(name, "").strip() or default
    try:
        ok = bool(parse_many(raw))
    except ValueError:
        ok = False
    if not ok:
        raise SettingsError(f"{name} must be a limit like '10 per 15 minutes', not {raw!r}")
    return raw


def _hex_key(value: str, name: str) -> str:
    try:
        ok = len(bytes.fromhex(value)) == 32
    except ValueError:
        ok = False
    if not ok:
        raise SettingsError(f"{name} must be 64 hexadecimal characters (32 random bytes)")
    return value


def _local_secret(var_dir: Path, name: str) -> str:
    """A random secret kept under ./var so a development install stays stable across restarts."""
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value
