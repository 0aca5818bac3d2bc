"""Twilio's TwiML interpreter for one call: signed webhook posts, then whatever the TwiML says.

Say, Play, Pause, Hangup, Redirect, Gather (with the caller's digits or speech), Dial (the
coordinator leg's status callbacks, whisper and recording) and Record (voicemail). Queues
(``<Enqueue>``) are Twilio's own state: ``player.TwilioSimulator`` plays them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from urllib.parse import urljoin

from contact_center.simulator.script import Caller, Request, SimulatedCall, new_sid
from contact_center.twilio import sign

# (absolute URL, form, headers) -> (HTTP status, body)
Transport = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, str]]


class TwimlPlayer:
    """Posts signed webhooks to one deployment over a transport and follows the TwiML answered."""

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
        """Post a form as Twilio does (it names the account in every request), signed unless a
        ``signature`` is forced."""
        form = {"AccountSid": self.account_sid, **form}
        absolute = self.url(url)
        sig = sign(self.auth_token, absolute, form) if signature is None else signature
        return self.transport(absolute, form, {"X-Twilio-Signature": sig})

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
                    form = (
                        {"Digits": answer.digits}
                        if answer.digits
                        else {
                            "SpeechResult": answer.speech or "",
                            "Confidence": f"{answer.confidence:.2f}",
                        }
                    )
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
                _, body = self._send(
                    call, noun.get("url", ""), {**leg, "CallStatus": "in-progress"}
                )
                try:
                    call.whispers += [
                        (s.text or "").strip() for s in ET.fromstring(body).iter("Say")
                    ]
                except ET.ParseError:
                    call.errors.append("invalid whisper TwiML")
            if callback:
                final = "in-progress" if answered else plan.status
                self._send(call, callback, {**leg, "CallStatus": final})
                if answered:
                    self._send(
                        call,
                        callback,
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

    def _enqueue(
        self, call: SimulatedCall, caller: Caller, verb: ET.Element
    ) -> tuple[str, dict[str, str]] | None:
        """``<Enqueue>``: a player that keeps Twilio's queues overrides this."""
        call.errors.append("simulator does not play <Enqueue>")
        return None
