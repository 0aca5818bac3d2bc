"""Twilio's side of whole calls: inbound calls, the queues they wait in, outbound calls.

Tests drive the product exactly as Twilio would (signed form posts, then whatever the TwiML
says: Gather action with Digits or SpeechResult, Dial action with DialCallStatus, Redirect,
Record action, status and recording callbacks). The sandbox uses it to play calls without
Twilio. What the caller does is given by a ``Caller`` (answers to Gathers, what happens to
Dials and Records); what happened is collected in a ``SimulatedCall``.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from contact_center.simulator.script import (
    Caller,
    DialPlan,
    QueueState,
    SimulatedCall,
    new_sid,
)
from contact_center.simulator.twiml import Transport, TwimlPlayer

STATUS_CALLBACK_PATH = "/twilio/voice/status"  # configured on the phone number at Twilio
_CALL_UPDATE = re.compile(r"/Calls/(CA[0-9a-fA-F]{32})\.json$")


class TwilioSimulator(TwimlPlayer):
    """Plays Twilio for one deployment (base URL + auth token) over a transport."""

    def __init__(
        self, base_url: str, auth_token: str, account_sid: str, transport: Transport
    ) -> None:
        super().__init__(base_url, auth_token, account_sid, transport)
        self.queues: dict[str, list[str]] = {}  # Twilio's side of each queue: CallSids in order
        self._delivered: set[str] = set()

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

    def outbound_call(
        self,
        call_sid: str,
        request: Mapping[str, str],
        callee: Caller | None = None,
        pickup: DialPlan | None = None,
    ) -> SimulatedCall:
        """Play a call the product asked Twilio to place; ``request`` is its ``Calls.create`` form.

        The form names From, To, Url and (optionally) StatusCallback. ``pickup`` says whether
        the callee answers (``completed``, the default, for its ``talk_seconds``) or not
        (``no-answer``, ``busy``, ...: that final status is sent and the call ends). An answered
        call gets ``ringing``, then the Url's TwiML is followed (``callee`` answers its Gathers
        and Dials), then ``completed`` with the duration.
        """
        pickup = pickup or DialPlan()
        call = SimulatedCall(call_sid, request["From"], request["To"])
        callback = request.get("StatusCallback")
        extra = {"Direction": "outbound-api"}
        if pickup.status != "completed":
            if callback:
                self._send(call, callback, {**extra, "CallStatus": pickup.status})
            call.ended = True
            return call
        if callback:
            self._send(call, callback, {**extra, "CallStatus": "ringing"})
        self._fetch(call, callee or Caller(), request["Url"], extra)
        if callback:
            duration = {"CallDuration": str(pickup.talk_seconds)}
            self._send(call, callback, {**extra, "CallStatus": "completed", **duration})
        call.ended = True
        return call

    def softphone_call(
        self,
        identity: str,
        params: Mapping[str, str],
        voice_url: str,
        status_callback: str | None = None,
        callee: Caller | None = None,
        talk_seconds: int = 60,
    ) -> SimulatedCall:
        """Play a call the Voice SDK places from a browser through a TwiML App: Twilio posts the
        app's Voice URL with ``From`` client:<identity> and the SDK's ``params``, follows the
        TwiML (``callee`` answers its Dials and Gathers), then the app's status callback."""
        call = SimulatedCall(new_sid("CA"), f"client:{identity}", params.get("To", ""))
        extra = {"Direction": "inbound", **params}
        self._fetch(call, callee or Caller(), voice_url, extra)
        if status_callback:
            done = {"CallStatus": "completed", "CallDuration": str(talk_seconds)}
            self._send(call, status_callback, {"Direction": "inbound", **done})
        call.ended = True
        return call

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
            url = q.wait_url
            extra: dict[str, str] = {}
            outcome = "done"
            for _hop in range(10):
                status, body = self._send(
                    call, url, {"CallStatus": "in-progress", **self._queue_form(call), **extra}
                )
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

    def _leave_queue(self, call: SimulatedCall, result: str) -> tuple[str, dict[str, str]] | None:
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
