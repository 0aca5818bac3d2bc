"""A stand-in for Twilio's side of a call: signs webhooks, follows the returned TwiML.

Tests drive the product exactly as Twilio would (signed form posts, then whatever the TwiML
says: Gather action with Digits or SpeechResult, Dial action with DialCallStatus, Redirect,
Record action, status and recording callbacks). The sandbox uses it to play calls without
Twilio. What the caller does is given by a ``Caller`` (answers to Gathers, what happens to
Dials and Records); what happened is collected in a ``SimulatedCall``.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

from contact_center.twilio import sign

# (absolute URL, form, headers) -> (HTTP status, body)
Transport = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, str]]

STATUS_CALLBACK_PATH = "/twilio/voice/status"  # configured on the phone number at Twilio


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

    def gather(self) -> Answer:
        return self.answers.pop(0) if self.answers else SILENCE

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

    @property
    def said(self) -> str:
        return " ".join(self.heard)

    def last(self, path: str) -> Request:
        return [r for r in self.requests if path in r.url][-1]


class TwilioSimulator:
    """Plays Twilio for one deployment (base URL + auth token) over a transport."""

    def __init__(
        self, base_url: str, auth_token: str, account_sid: str, transport: Transport
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.transport = transport

    def url(self, path: str) -> str:
        return path if path.startswith("http") else urljoin(self.base_url + "/", path.lstrip("/"))

    def post(
        self, url: str, form: Mapping[str, str], *, signature: str | None = None
    ) -> tuple[int, str]:
        """Post a form as Twilio does, signed unless a ``signature`` is forced."""
        absolute = self.url(url)
        sig = sign(self.auth_token, absolute, form) if signature is None else signature
        return self.transport(absolute, form, {"X-Twilio-Signature": sig})

    def call(
        self,
        from_number: str,
        to_number: str,
        caller: Caller | None = None,
        *,
        call_sid: str | None = None,
        send_final_status: bool = True,
    ) -> SimulatedCall:
        """Place an inbound call and follow the TwiML until the call ends."""
        call = SimulatedCall(call_sid or new_sid("CA"), from_number, to_number)
        caller = caller or Caller()
        self._fetch(call, caller, "/twilio/voice/incoming", {"CallStatus": "ringing"})
        call.ended = True
        if send_final_status:
            self._send(call, STATUS_CALLBACK_PATH, {"CallStatus": "completed", "CallDuration": "60"})
        return call

    def status(self, call_sid: str, status: str, **extra: str) -> tuple[int, str]:
        """Send one status callback for a call (tests replay and reorder these)."""
        form = {"CallSid": call_sid, "AccountSid": self.account_sid, "CallStatus": status, **extra}
        return self.post(STATUS_CALLBACK_PATH, form)

    # -- following TwiML ----------------------------------------------------------------

    def _base_form(self, call: SimulatedCall) -> dict[str, str]:
        return {
            "CallSid": call.call_sid,
            "AccountSid": self.account_sid,
            "From": call.from_number,
            "To": call.to_number,
            "Caller": call.from_number,
            "Called": call.to_number,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    def _send(self, call: SimulatedCall, url: str, extra: Mapping[str, str]) -> tuple[int, str]:
        form = {**self._base_form(call), **extra}
        status, body = self.post(url, form)
        call.requests.append(Request(self.url(url), form, status, body))
        if status >= 400:
            call.errors.append(f"{status} from {url}")
        return status, body

    def _fetch(
        self, call: SimulatedCall, caller: Caller, url: str, extra: Mapping[str, str]
    ) -> None:
        for _hop in range(50):  # a TwiML loop would otherwise never end
            status, body = self._send(call, url, {"CallStatus": "in-progress", **extra})
            if status != 200:
                call.heard.append("[Twilio: an application error has occurred]")
                return
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                call.errors.append(f"invalid TwiML from {url}")
                call.heard.append("[Twilio: an application error has occurred]")
                return
            if root.tag != "Response":
                call.errors.append(f"TwiML root is {root.tag}, not Response")
                return
            follow = self._run(call, caller, list(root))
            if follow is None:
                return
            url, extra = follow
        call.errors.append("too many TwiML hops")

    def _run(
        self, call: SimulatedCall, caller: Caller, verbs: list[ET.Element]
    ) -> tuple[str, dict[str, str]] | None:
        """Execute verbs in order; return the next (url, form) to fetch, or None at the end."""
        for verb in verbs:
            tag = verb.tag
            if tag == "Say":
                call.heard.append((verb.text or "").strip())
            elif tag == "Play":
                call.heard.append(f"[play {verb.text}]")
            elif tag in ("Pause",):
                continue
            elif tag == "Hangup":
                return None
            elif tag == "Redirect":
                return (verb.text or "").strip(), {}
            elif tag == "Gather":
                for child in verb:
                    if child.tag == "Say":
                        call.heard.append((child.text or "").strip())
                answer = caller.gather()
                if answer.digits or answer.speech:
                    form = {"Digits": answer.digits} if answer.digits else {
                        "SpeechResult": answer.speech or "",
                        "Confidence": f"{answer.confidence:.2f}",
                    }
                    return verb.get("action", ""), form
                if verb.get("actionOnEmptyResult") == "true":
                    return verb.get("action", ""), {}
            elif tag == "Dial":
                follow = self._dial(call, caller, verb)
                if follow is not None:
                    return follow
            elif tag == "Record":
                seconds = caller.record()
                if seconds <= 0:
                    continue  # no audio: Twilio skips the action and goes on
                rec_sid = new_sid("RE")
                rec = {
                    "RecordingSid": rec_sid,
                    "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                    f"{self.account_sid}/Recordings/{rec_sid}",
                    "RecordingDuration": str(seconds),
                    "RecordingStatus": "completed",
                    "RecordingChannels": "1",
                }
                call.recordings.append(rec)
                callback = verb.get("recordingStatusCallback")
                if callback:
                    self._send(call, callback, rec)
                return verb.get("action", ""), {**rec, "Digits": "hangup"}
            else:
                call.errors.append(f"simulator does not play <{tag}>")
        return None

    def _dial(
        self, call: SimulatedCall, caller: Caller, verb: ET.Element
    ) -> tuple[str, dict[str, str]] | None:
        plan = caller.dial()
        child_sid = new_sid("CA")
        for noun in verb:
            target = (noun.text or "").strip()
            call.dialed.append({"noun": noun.tag, "target": target, "status": plan.status})
            leg = {"CallSid": child_sid, "ParentCallSid": call.call_sid, "To": f"client:{target}"}
            callback = noun.get("statusCallback")
            answered = plan.status == "completed"
            if callback:
                for status in ("initiated", "ringing"):
                    self._send(call, callback, {**leg, "CallStatus": status})
            if answered and noun.get("url"):
                _, body = self._send(call, noun.get("url", ""), {**leg, "CallStatus": "in-progress"})
                try:
                    call.whispers += [(s.text or "").strip() for s in ET.fromstring(body).iter("Say")]
                except ET.ParseError:
                    call.errors.append("invalid whisper TwiML")
            if callback:
                final = "in-progress" if answered else plan.status
                self._send(call, callback, {**leg, "CallStatus": final})
                if answered:
                    self._send(
                        call, callback,
                        {**leg, "CallStatus": "completed", "CallDuration": str(plan.talk_seconds)},
                    )
        if plan.status == "completed" and verb.get("record", "do-not-record") != "do-not-record":
            rec_sid = new_sid("RE")
            rec = {
                "RecordingSid": rec_sid,
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                f"{self.account_sid}/Recordings/{rec_sid}",
                "RecordingDuration": str(plan.talk_seconds),
                "RecordingStatus": "completed",
                "RecordingChannels": "2",
                "RecordingSource": "DialVerb",
            }
            call.recordings.append(rec)
            if verb.get("recordingStatusCallback"):
                self._send(call, verb.get("recordingStatusCallback", ""), rec)
        outcome = {
            "DialCallStatus": plan.status,
            "DialCallSid": child_sid,
            "DialCallDuration": str(plan.talk_seconds if plan.status == "completed" else 0),
        }
        action = verb.get("action")
        return (action, outcome) if action else None
