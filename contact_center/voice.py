"""What a voice step does, as data: services return these, views render them as TwiML.

Domain code describes the next step of a call with these frozen dataclasses and never imports
the Twilio SDK. URLs are paths on this service (``/twilio/voice/...``); the renderer makes them
absolute with ``PUBLIC_BASE_URL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1


@dataclass(frozen=True)
class Pause:
    seconds: int = 1


Prompt = Say | Play | Pause


@dataclass(frozen=True)
class Gather:
    """Ask for keys or speech; on an empty answer Twilio still posts to ``action``."""

    action: str
    prompt: tuple[Prompt, ...]
    input: str = "dtmf speech"
    num_digits: int | None = 1
    timeout: int = 6
    hints: str | None = None
    action_on_empty_result: bool = True


@dataclass(frozen=True)
class DialClient:
    identity: str
    # TwiML played to the coordinator before the caller is connected (the whisper).
    whisper_url: str | None = None
    status_callback: str | None = None


@dataclass(frozen=True)
class Dial:
    action: str
    clients: tuple[DialClient, ...] = ()
    number: str | None = None
    timeout: int = 20
    # Dual-channel recording from answer; only ever True with the caller's consent.
    record: bool = False
    recording_status_callback: str | None = None
    caller_id: str | None = None


@dataclass(frozen=True)
class Record:
    action: str
    recording_status_callback: str
    max_length: int = 180
    timeout: int = 5
    finish_on_key: str = "#"
    play_beep: bool = True


@dataclass(frozen=True)
class Enqueue:
    name: str
    wait_url: str
    action: str


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class Hangup:
    pass


Step = Say | Play | Pause | Gather | Dial | Record | Enqueue | Redirect | Hangup


@dataclass(frozen=True)
class Script:
    """The whole answer to one webhook: the steps, in order."""

    steps: tuple[Step, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *steps: Step) -> Script:
        return cls(tuple(steps))

    def __add__(self, other: Script) -> Script:
        return Script(self.steps + other.steps)


EMPTY = Script()

APOLOGY = "We're sorry, we are having trouble connecting your call."


def apology_and_voicemail() -> Script:
    """What a caller hears when something inside failed: an apology, then voicemail."""
    return Script.of(
        Say(
            APOLOGY + " Please leave your name and number after the tone and we will call you back."
        ),
        Record(
            action="/twilio/voice/voicemail",
            recording_status_callback="/twilio/recordings/status?source=voicemail",
        ),
        Say("We did not receive a message. Goodbye."),
        Hangup(),
    )


def apology_and_hangup() -> Script:
    return Script.of(Say(APOLOGY + " Please call again in a few minutes. Goodbye."), Hangup())
