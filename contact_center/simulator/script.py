"""What a simulated caller does (``Caller``) and what happened on the call (``SimulatedCall``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Answer:
    """What the caller does at a <Gather>. Both empty: silence."""

    digits: str | None = None
    speech: str | None = None
    confidence: float = 0.92


SILENCE = Answer()


@dataclass(frozen=True)
class DialPlan:
    """What happens to one <Dial>: the coordinator answers (and talks) or not."""

    status: str = "completed"  # completed (answered), no-answer, busy, failed
    talk_seconds: int = 30


@dataclass
class Caller:
    """A scripted caller: answers and outcomes are consumed in order."""

    answers: list[Answer] = field(default_factory=list)
    dials: list[DialPlan] = field(default_factory=list)
    voicemail_seconds: list[int] = field(default_factory=list)
    # On hold in a queue (<Enqueue>): answers to the wait URL's Gathers (silence when used
    # up); passes of the wait URL listened to before the simulator leaves the call waiting
    # (``TwilioSimulator.hold``, ``redirect``, ``hang_up`` go on from there); hang up after
    # them instead; queue time each pass adds (the length of the hold clip).
    hold_answers: list[Answer] = field(default_factory=list)
    hold_passes: int = 1
    hang_up_in_queue: bool = False
    seconds_per_pass: int = 30

    def gather(self) -> Answer:
        return self.answers.pop(0) if self.answers else SILENCE

    def hold_gather(self) -> Answer:
        return self.hold_answers.pop(0) if self.hold_answers else SILENCE

    def dial(self) -> DialPlan:
        return self.dials.pop(0) if self.dials else DialPlan("no-answer", 0)

    def record(self) -> int:
        return self.voicemail_seconds.pop(0) if self.voicemail_seconds else 0


@dataclass
class Request:
    url: str
    form: dict[str, str]
    status: int
    body: str


@dataclass
class QueueState:
    """Where a call waits at Twilio after <Enqueue>."""

    name: str
    sid: str
    wait_url: str
    action: str | None
    queue_time: int = 0
    passes: int = 0


@dataclass
class SimulatedCall:
    call_sid: str
    from_number: str
    to_number: str
    heard: list[str] = field(default_factory=list)
    whispers: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    dialed: list[dict[str, str]] = field(default_factory=list)
    recordings: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ended: bool = False
    queue: QueueState | None = None
    queue_results: list[str] = field(default_factory=list)
    send_final_status: bool = True

    @property
    def said(self) -> str:
        return " ".join(self.heard)

    @property
    def waiting(self) -> bool:
        """On hold in a queue: the call is live until redirected, answered or hung up."""
        return self.queue is not None and not self.ended

    def last(self, path: str) -> Request:
        return [r for r in self.requests if path in r.url][-1]
