"""A stand-in for Twilio's side of a call: signs webhooks, follows the returned TwiML.

Tests drive the product exactly as Twilio would (signed form posts, then whatever the TwiML
says: Gather action with Digits or SpeechResult, Dial action with DialCallStatus, Redirect,
Record action, status and recording callbacks). The sandbox uses it to play calls without
Twilio. What the caller does is given by a ``Caller`` (answers to Gathers, what happens to
Dials and Records); what happened is collected in a ``SimulatedCall``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from contact_center.twilio import sign

# (absolute URL, form, headers) -> (HTTP status, body)
Transport = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, str]]

STATUS_CALLBACK_PATH = "/twilio/voice/status"  # configured on the phone number at Twilio
_CALL_UPDATE = re.compile(r"/Calls/(CA[0-9a-fA-F]{32})\.json$")


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


class TwilioSimulator:
    """Plays Twilio for one deployment (base URL + auth token) over a transport."""

    def __init__(
        self, base_url: str, auth_token: str, account_sid: str, transport: Transport
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.transport = transport
        self.queues: dict[str, list[str]] = {}  # Twilio's side of each queue: CallSids in order
        self._delivered: set[str] = set()

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
        call.send_final_status = send_final_status
        caller = caller or Caller()
        self._fetch(call, caller, "/twilio/voice/incoming", {"CallStatus": "ringing"})
        if not call.waiting:
            self._end(call)
        return call

    def _end(self, call: SimulatedCall) -> None:
        call.ended = True
        if call.send_final_status:
            final = {"CallStatus": "completed", "CallDuration": "60"}
            self._send(call, STATUS_CALLBACK_PATH, final)

    # -- queues (<Enqueue>) ---------------------------------------------------------------

    def hold(self, call: SimulatedCall, caller: Caller, passes: int = 1) -> SimulatedCall:
        """A waiting call listens to ``passes`` more passes of the wait URL (then, per the
        caller, stays waiting or hangs up); whatever follows a <Leave> is played out."""
        if not call.waiting:
            raise ValueError(f"{call.call_sid} is not waiting in a queue")
        follow = self._hold(call, caller, passes)
        if follow is not None:
            self._fetch(call, caller, *follow)
        if not call.waiting:
            self._end(call)
        return call

    def hang_up(self, call: SimulatedCall) -> SimulatedCall:
        """The caller hangs up while waiting: Enqueue action ``hangup``, then the final status."""
        if call.waiting:
            self._leave_queue(call, "hangup")
            self._end(call)
        return call

    def redirect(self, call: SimulatedCall, caller: Caller, url: str) -> SimulatedCall:
        """A REST redirect (``calls(sid).update(url=...)``) of a live call: it leaves its queue
        (Enqueue action ``redirected``) and plays the TwiML at ``url``."""
        if call.ended:
            raise ValueError(f"{call.call_sid} has ended")
        if call.queue is not None:
            self._leave_queue(call, "redirected")
        self._fetch(call, caller, url, {})
        if not call.waiting:
            self._end(call)
        return call

    def deliver_redirects(
        self, calls: Iterable[tuple[SimulatedCall, Caller]], requests: Iterable[Any]
    ) -> int:
        """Play the REST redirects the adapter recorded (rows with ``method``, ``url``, ``form``,
        optionally ``id``) to the live calls they name; each recorded request once. Returns how
        many were delivered."""
        live = {c.call_sid: (c, caller) for c, caller in calls if not c.ended}
        delivered = 0
        for req in requests:
            match = _CALL_UPDATE.search(str(req.url))
            target = (req.form or {}).get("Url")
            key = f"{getattr(req, 'id', '')}:{req.url}:{target}"
            if req.method != "POST" or match is None or not target or key in self._delivered:
                continue
            if match.group(1) not in live:
                continue
            self._delivered.add(key)
            self.redirect(*live[match.group(1)], str(target))
            delivered += 1
        return delivered

    def _queue_form(self, call: SimulatedCall) -> dict[str, str]:
        q = call.queue
        assert q is not None
        line = self.queues.get(q.name, [])
        position = line.index(call.call_sid) + 1 if call.call_sid in line else 0
        return {
            "QueueSid": q.sid,
            "QueueTime": str(q.queue_time),
            "QueuePosition": str(position),
            "CurrentQueueSize": str(len(line)),
            "AvgQueueTime": str(q.queue_time),
        }

    def _enqueue(
        self, call: SimulatedCall, caller: Caller, verb: ET.Element
    ) -> tuple[str, dict[str, str]] | None:
        name = (verb.text or "").strip()
        call.queue = QueueState(
            name=name,
            sid="QU" + hashlib.md5(name.encode()).hexdigest(),
            wait_url=verb.get("waitUrl", ""),
            action=verb.get("action"),
        )
        self.queues.setdefault(name, []).append(call.call_sid)
        return self._hold(call, caller, caller.hold_passes)

    def _hold(
        self, call: SimulatedCall, caller: Caller, passes: int
    ) -> tuple[str, dict[str, str]] | None:
        """Passes of the wait URL. Returns what to fetch after a <Leave> (the Enqueue action),
        or None: still waiting (``call.waiting``) or gone."""
        q = call.queue
        assert q is not None
        for _ in range(passes):
            url, extra = q.wait_url, {}
            outcome = "done"
            for _hop in range(10):
                status, body = self._send(call, url, {"CallStatus": "in-progress",
                                                      **self._queue_form(call), **extra})
                try:
                    verbs = list(ET.fromstring(body)) if status == 200 else []
                except ET.ParseError:
                    call.errors.append(f"invalid TwiML from {url}")
                    verbs = []
                outcome, follow = self._run_wait(call, caller, verbs)
                if follow is None:
                    break
                url, extra = follow
            q.passes += 1
            if outcome in ("leave", "hangup"):
                return self._leave_queue(call, outcome)
            q.queue_time += caller.seconds_per_pass
        if caller.hang_up_in_queue:
            self._leave_queue(call, "hangup")
        return None

    def _run_wait(
        self, call: SimulatedCall, caller: Caller, verbs: list[ET.Element]
    ) -> tuple[str, tuple[str, dict[str, str]] | None]:
        """One wait URL document (or Gather action in it): Say, Play, Pause, Gather, Redirect,
        Leave, Hangup. Returns ("done" | "leave" | "hangup", next document to fetch or None)."""
        for verb in verbs:
            if verb.tag == "Say":
                call.heard.append((verb.text or "").strip())
            elif verb.tag == "Play":
                call.heard.append(f"[play {verb.text}]")
            elif verb.tag == "Leave":
                return "leave", None
            elif verb.tag == "Hangup":
                return "hangup", None
            elif verb.tag == "Redirect":
                return "done", ((verb.text or "").strip(), {})
            elif verb.tag == "Gather":
                for child in verb:
                    if child.tag == "Say":
                        call.heard.append((child.text or "").strip())
                    elif child.tag == "Play":
                        call.heard.append(f"[play {child.text}]")
                answer = caller.hold_gather()
                if answer.digits:
                    return "done", (verb.get("action", ""), {"Digits": answer.digits})
                if verb.get("actionOnEmptyResult") == "true":
                    return "done", (verb.get("action", ""), {})
            elif verb.tag != "Pause":
                call.errors.append(f"<{verb.tag}> is not allowed in a wait URL")
        return "done", None

    def _leave_queue(
        self, call: SimulatedCall, result: str
    ) -> tuple[str, dict[str, str]] | None:
        q = call.queue
        assert q is not None
        form = {"QueueResult": result, "QueueSid": q.sid, "QueueTime": str(q.queue_time)}
        line = self.queues.get(q.name, [])
        if call.call_sid in line:
            line.remove(call.call_sid)
        call.queue = None
        call.queue_results.append(result)
        if q.action is None:
            return None
        if result == "leave":
            return q.action, form  # Twilio plays the action's TwiML
        self._send(call, q.action, {"CallStatus": "in-progress", **form})
        return None

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
            elif tag == "Enqueue":
                return self._enqueue(call, caller, verb)  # None: still waiting, or gone
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
