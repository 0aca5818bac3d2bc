"""Sandbox calls played step by step from the browser (no Twilio account needed).

The Try-it page is the caller, the coordinator's sandbox device is the softphone; this module
is Twilio in between. It posts signed webhooks to the product with ``TwilioSimulator`` over an
in-process transport and follows the TwiML, but unlike the simulator's scripted ``call`` it
stops where a person must act: at a ``<Gather>`` (the Try-it keypad answers), a ``<Dial>``
(the coordinator's device rings; answer, reject, hang up) and a ``<Record>`` (the caller
finishes a voicemail). The state of each call lives in Redis, so any web process can serve
the next step. Events for the browsers go through ``publish(user_id, kind, data)``.
"""

from __future__ import annotations

import json
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis

from contact_center.errors import Forbidden, InvalidInput, NotFound
from contact_center.simulator import STATUS_CALLBACK_PATH, TwilioSimulator, new_sid

logger = logging.getLogger(__name__)

Publish = Callable[[int, str, dict[str, Any]], None]
UserLookup = Callable[[str], int | None]  # softphone identity -> user id
STATE_TTL_S = 2 * 3600
MAX_HOPS = 30
# The TwiML App of the console softphone (see routing.client_views).
CLIENT_VOICE_PATH = "/twilio/client/outgoing"
CLIENT_STATUS_PATH = "/twilio/client/status"


@dataclass
class SandboxCall:
    call_sid: str
    practice_id: int
    owner_id: int
    from_number: str
    to_number: str
    state: str = "ivr"  # ivr, gather, ringing, connected, voicemail, ended
    lines: list[dict[str, str]] = field(default_factory=list)
    gather: dict[str, Any] | None = None
    dial: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    held: bool = False
    started_at: float = field(default_factory=time.time)
    # A softphone's own call (click to dial): the coordinator is the caller, the patient the
    # dialed number; Twilio reports it to the TwiML App's status callback.
    outgoing: bool = False
    status_callback: str = STATUS_CALLBACK_PATH

    def say(self, who: str, text: str) -> None:
        if text:
            self.lines.append({"who": who, "text": text})

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        if self.dial:
            data["dial"] = {k: self.dial[k] for k in ("identity", "timeout") if k in self.dial}
        return data


class SandboxPlayer:
    """Plays Twilio's side of sandbox calls for one deployment."""

    def __init__(
        self, simulator: TwilioSimulator, redis: Redis, publish: Publish, users: UserLookup
    ) -> None:
        self.sim = simulator
        self.redis = redis
        self.publish = publish
        self.users = users

    # -- state ---------------------------------------------------------------------------

    def _key(self, call_sid: str) -> str:
        return f"cc:sandbox:call:{call_sid}"

    def load(self, practice_id: int, call_sid: str) -> SandboxCall:
        raw = self.redis.get(self._key(call_sid))
        if raw is None:
            raise NotFound("no such sandbox call")
        call = SandboxCall(**json.loads(raw))
        if call.practice_id != practice_id:
            raise NotFound("no such sandbox call")
        return call

    def _save(self, call: SandboxCall) -> None:
        self.redis.set(self._key(call.call_sid), json.dumps(asdict(call)), ex=STATE_TTL_S)
        self.publish(call.owner_id, "sandbox.call", call.view())

    def _locked(self, call_sid: str) -> Any:
        return self.redis.lock(f"cc:sandbox:lock:{call_sid}", timeout=30, blocking_timeout=15)

    # -- what the caller does ---------------------------------------------------------------

    def start(
        self, practice_id: int, owner_id: int, from_number: str, to_number: str
    ) -> SandboxCall:
        call = SandboxCall(new_sid("CA"), practice_id, owner_id, from_number, to_number)
        with self._locked(call.call_sid):
            self._follow(call, "/twilio/voice/incoming", {"CallStatus": "ringing"})
            self._save(call)
        return call

    def place(self, practice_id: int, user_id: int, identity: str, task_id: int) -> SandboxCall:
        """A coordinator's softphone calls a callback task's patient through the TwiML App;
        the sandbox patient answers at once. Ends at once when the product refuses."""
        call = SandboxCall(
            new_sid("CA"),
            practice_id,
            user_id,
            f"client:{identity}",
            "",
            outgoing=True,
            status_callback=CLIENT_STATUS_PATH,
        )
        with self._locked(call.call_sid):
            self._follow(call, CLIENT_VOICE_PATH, {"CallbackTaskId": str(task_id)})
            self._save(call)
        return call

    def ring_leg(
        self,
        practice_id: int,
        call_sid: str,
        from_number: str,
        identity: str,
        url: str,
        status_callback: str,
        timeout: int,
    ) -> SandboxCall | None:
        """A call the product asked Twilio to place to a softphone (the dialer ringing a
        coordinator): the device rings; answering it follows the call's ``url``."""
        user_id = self.users(identity)
        if user_id is None:
            return None
        call = SandboxCall(
            call_sid,
            practice_id,
            user_id,
            from_number,
            f"client:{identity}",
            state="ringing",
            outgoing=True,
            status_callback=status_callback,
        )
        call.dial = {
            "identity": identity,
            "user_id": user_id,
            "child_sid": call_sid,
            "timeout": timeout,
            "answer_url": url,
        }
        with self._locked(call_sid):
            self._post(call, status_callback, {"CallStatus": "ringing"})
            call.say("system", f"ringing {identity}")
            self.publish(
                user_id,
                "sandbox.incoming",
                {
                    "call_sid": call_sid,
                    "child_sid": call_sid,
                    "practice_id": practice_id,
                    "from": from_number,
                    "to": call.to_number,
                    "timeout": timeout,
                },
            )
            self._save(call)
        return call

    def leg_timeout(self, practice_id: int, call_sid: str) -> SandboxCall:
        """The ring time of a placed call passed: nobody answered."""
        with self._locked(call_sid):
            call = self.load(practice_id, call_sid)
            if call.state == "ringing" and call.dial is not None:
                self.publish(call.dial["user_id"], "sandbox.cancel", {"call_sid": call.call_sid})
                self._not_answered(call, "no-answer")
                self._save(call)
        return call

    def press(self, practice_id: int, user_id: int, call_sid: str, digits: str) -> SandboxCall:
        with self._locked(call_sid):
            call = self._owned(practice_id, user_id, call_sid)
            if call.state != "gather" or call.gather is None:
                raise InvalidInput("the call is not waiting for keys", "digits")
            gather, call.gather, call.state = call.gather, None, "ivr"
            if digits:
                call.say("caller", f"pressed {digits}")
                self._follow(call, gather["action"], {"Digits": digits[: gather["num_digits"]]})
            elif gather["on_empty"]:
                self._follow(call, gather["action"], {})
            else:
                self._continue(call, gather["rest"])
            self._save(call)
        return call

    def finish_voicemail(
        self, practice_id: int, user_id: int, call_sid: str, seconds: int
    ) -> SandboxCall:
        with self._locked(call_sid):
            call = self._owned(practice_id, user_id, call_sid)
            if call.state != "voicemail" or call.record is None:
                raise InvalidInput("the call is not recording a voicemail", "call")
            record, call.record, call.state = call.record, None, "ivr"
            if seconds <= 0:
                self._continue(call, record["rest"])
            else:
                rec_sid = new_sid("RE")
                rec = {
                    "RecordingSid": rec_sid,
                    "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                    f"{self.sim.account_sid}/Recordings/{rec_sid}",
                    "RecordingDuration": str(seconds),
                    "RecordingStatus": "completed",
                    "RecordingChannels": "1",
                }
                call.say("system", f"voicemail of {seconds} s left")
                if record.get("callback"):
                    self._post(call, record["callback"], rec)
                self._follow(call, record["action"], {**rec, "Digits": "hangup"})
            self._save(call)
        return call

    def hang_up_caller(self, practice_id: int, user_id: int, call_sid: str) -> SandboxCall:
        with self._locked(call_sid):
            call = self._owned(practice_id, user_id, call_sid)
            if call.state == "connected":
                self._bridge_ended(call, by="caller")
            elif call.state != "ended":
                if call.state == "ringing" and call.dial:
                    self._leg(call, "canceled")
                    self.publish(
                        call.dial["user_id"], "sandbox.cancel", {"call_sid": call.call_sid}
                    )
                call.say("system", "caller hung up")
                self._end(call)
            self._save(call)
        return call

    # -- what the coordinator's sandbox device does -------------------------------------------

    def answer(self, practice_id: int, user_id: int, call_sid: str) -> SandboxCall:
        with self._locked(call_sid):
            call = self._ringing_for(practice_id, user_id, call_sid)
            dial = call.dial
            assert dial is not None
            if dial.get("answer_url"):  # a placed call: its TwiML is what the coordinator hears
                call.dial, call.state, heard = None, "ivr", len(call.lines)
                self._follow(call, dial["answer_url"], {})
                for line in call.lines[heard:]:
                    if line["who"] == "ivr":
                        line["who"] = "whisper"
                self._save(call)
                return call
            if dial.get("whisper_url"):
                _, body = self._post(call, dial["whisper_url"], self._leg_form(call, "in-progress"))
                for text in _says(body):
                    call.say("whisper", text)
            self._leg(call, "in-progress")
            dial["answered_at"] = time.time()
            call.state = "connected"
            call.say("system", f"connected to {dial['identity']}")
            self._save(call)
        return call

    def reject(self, practice_id: int, user_id: int, call_sid: str, status: str) -> SandboxCall:
        """The coordinator declined: Twilio moves on to the Dial action."""
        if status not in ("busy", "no-answer"):
            raise InvalidInput("status must be busy or no-answer", "status")
        with self._locked(call_sid):
            call = self._ringing_for(practice_id, user_id, call_sid)
            self._not_answered(call, status)
            self._save(call)
        return call

    def ring_timeout(self, practice_id: int, owner_id: int, call_sid: str) -> SandboxCall:
        """The Dial's timeout passed with nobody answering (the caller's page keeps the time)."""
        with self._locked(call_sid):
            call = self._owned(practice_id, owner_id, call_sid)
            if call.state == "ringing" and call.dial is not None:
                self.publish(call.dial["user_id"], "sandbox.cancel", {"call_sid": call.call_sid})
                self._not_answered(call, "no-answer")
                self._save(call)
        return call

    def _not_answered(self, call: SandboxCall, status: str) -> None:
        dial = call.dial
        assert dial is not None
        if dial.get("answer_url"):  # a placed call ends unanswered: Twilio tells its callback
            call.dial, call.state = None, "ended"
            call.say("system", f"{dial['identity']} did not answer ({status})")
            self._post(call, call.status_callback, {"CallStatus": status, "CallDuration": "0"})
            return
        self._leg(call, status)
        call.dial, call.state = None, "ivr"
        call.say("system", f"{dial['identity']} did not answer ({status})")
        self._follow(
            call,
            dial["action"],
            {
                "DialCallStatus": status,
                "DialCallSid": dial["child_sid"],
                "DialCallDuration": "0",
            },
        )

    def hang_up_agent(self, practice_id: int, user_id: int, call_sid: str) -> SandboxCall:
        with self._locked(call_sid):
            call = self.load(practice_id, call_sid)
            if call.dial is None or call.dial["user_id"] != user_id:
                raise Forbidden("this call is not yours")
            if call.state == "connected" and call.outgoing:
                self._outgoing_ended(call)
                self._save(call)
            elif call.state == "connected":
                self._bridge_ended(call, by="coordinator")
                self._save(call)
        return call

    def hold(self, practice_id: int, user_id: int, call_sid: str, on: bool) -> SandboxCall:
        with self._locked(call_sid):
            call = self.load(practice_id, call_sid)
            if call.dial is None or call.dial["user_id"] != user_id or call.state != "connected":
                raise InvalidInput("no connected call to hold", "call")
            call.held = on
            call.say("system", "on hold" if on else "off hold")
            self._save(call)
        return call

    # -- following TwiML -------------------------------------------------------------------

    def _owned(self, practice_id: int, user_id: int, call_sid: str) -> SandboxCall:
        call = self.load(practice_id, call_sid)
        if call.owner_id != user_id:
            raise Forbidden("this sandbox call was placed by someone else")
        return call

    def _ringing_for(self, practice_id: int, user_id: int, call_sid: str) -> SandboxCall:
        call = self.load(practice_id, call_sid)
        if call.state != "ringing" or call.dial is None:
            raise InvalidInput("the call is not ringing", "call")
        if call.dial["user_id"] != user_id:
            raise Forbidden("this call is ringing somebody else")
        return call

    def _base_form(self, call: SandboxCall) -> dict[str, str]:
        return {
            "CallSid": call.call_sid,
            "AccountSid": self.sim.account_sid,
            "From": call.from_number,
            "To": call.to_number,
            "Caller": call.from_number,
            "Called": call.to_number,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    def _post(self, call: SandboxCall, url: str, extra: dict[str, str]) -> tuple[int, str]:
        status, body = self.sim.post(url, {**self._base_form(call), **extra})
        if status >= 400:
            logger.warning("sandbox webhook %s answered %s call_sid=%s", url, status, call.call_sid)
        return status, body

    def _follow(self, call: SandboxCall, url: str, extra: dict[str, str]) -> None:
        for _hop in range(MAX_HOPS):
            status, body = self._post(call, url, {"CallStatus": "in-progress", **extra})
            try:
                root = ET.fromstring(body) if status == 200 else None
            except ET.ParseError:
                root = None
            if root is None or root.tag != "Response":
                call.say("system", "Twilio: an application error has occurred")
                self._end(call)
                return
            follow = self._run(call, list(root))
            if follow is None:
                return
            url, extra = follow
        call.say("system", "too many TwiML hops")
        self._end(call)

    def _continue(self, call: SandboxCall, rest: str) -> None:
        follow = self._run(call, list(ET.fromstring(rest))) if rest else None
        if follow is not None:
            self._follow(call, *follow)
        elif call.state == "ivr":
            self._end(call)

    def _run(self, call: SandboxCall, verbs: list[ET.Element]) -> tuple[str, dict[str, str]] | None:
        """Play verbs until one needs a person (None) or the TwiML moves on (url, form)."""
        for index, verb in enumerate(verbs):
            rest = _rest(verbs[index + 1 :])
            if verb.tag == "Say":
                call.say("ivr", (verb.text or "").strip())
            elif verb.tag == "Play":
                call.say("ivr", "[music]")
            elif verb.tag == "Hangup":
                self._end(call)
                return None
            elif verb.tag == "Redirect":
                return (verb.text or "").strip(), {}
            elif verb.tag == "Gather":
                for child in verb:
                    if child.tag == "Say":
                        call.say("ivr", (child.text or "").strip())
                call.state = "gather"
                call.gather = {
                    "action": verb.get("action", ""),
                    "num_digits": int(verb.get("numDigits", "1")),
                    "timeout": int(verb.get("timeout", "5")),
                    "on_empty": verb.get("actionOnEmptyResult") == "true",
                    "rest": rest,
                }
                return None
            elif verb.tag == "Dial":
                return self._ring(call, verb)
            elif verb.tag == "Record":
                call.state = "voicemail"
                call.record = {
                    "action": verb.get("action", ""),
                    "callback": verb.get("recordingStatusCallback"),
                    "rest": rest,
                }
                return None
            elif verb.tag != "Pause":
                call.say("system", f"the sandbox does not play <{verb.tag}> yet")
        self._end(call)
        return None

    def _ring(self, call: SandboxCall, verb: ET.Element) -> tuple[str, dict[str, str]] | None:
        number = verb.find("Number")
        if call.outgoing and number is not None:
            call.to_number = (number.text or "").strip()
            call.state = "connected"
            call.dial = {
                "action": verb.get("action", ""),
                "number": call.to_number,
                "user_id": call.owner_id,
                "child_sid": new_sid("CA"),
                "answered_at": time.time(),
            }
            call.say("system", f"calling {call.to_number}; the patient answers")
            return None
        client = verb.find("Client")
        action = verb.get("action", "")
        identity = (client.text or "").strip() if client is not None else ""
        user_id = self.users(identity) if identity else None
        if client is None or user_id is None:
            call.say("system", "the sandbox rings only softphones (<Client>)")
            return action, {
                "DialCallStatus": "failed",
                "DialCallSid": new_sid("CA"),
                "DialCallDuration": "0",
            }
        call.state = "ringing"
        call.dial = {
            "action": action,
            "identity": identity,
            "user_id": user_id,
            "child_sid": new_sid("CA"),
            "timeout": int(verb.get("timeout", "20")),
            "whisper_url": client.get("url"),
            "status_callback": client.get("statusCallback"),
            "record": verb.get("record", "do-not-record") != "do-not-record",
            "recording_callback": verb.get("recordingStatusCallback"),
        }
        for status in ("initiated", "ringing"):
            self._leg(call, status)
        call.say("system", f"ringing {identity}")
        self.publish(
            user_id,
            "sandbox.incoming",
            {
                "call_sid": call.call_sid,
                "child_sid": call.dial["child_sid"],
                "practice_id": call.practice_id,
                "from": call.from_number,
                "to": call.to_number,
                "timeout": call.dial["timeout"],
            },
        )
        return None

    def _leg_form(self, call: SandboxCall, status: str) -> dict[str, str]:
        assert call.dial is not None
        return {
            "CallSid": call.dial["child_sid"],
            "ParentCallSid": call.call_sid,
            "To": f"client:{call.dial['identity']}",
            "CallStatus": status,
        }

    def _leg(self, call: SandboxCall, status: str, **extra: str) -> None:
        if call.dial and call.dial.get("status_callback"):
            form = {**self._leg_form(call, status), **extra}
            self._post(call, call.dial["status_callback"], form)

    def _bridge_ended(self, call: SandboxCall, by: str) -> None:
        dial = call.dial
        assert dial is not None
        seconds = max(1, int(time.time() - dial.get("answered_at", time.time())))
        self._leg(call, "completed", CallDuration=str(seconds))
        if dial["record"]:
            rec_sid = new_sid("RE")
            rec = {
                "RecordingSid": rec_sid,
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                f"{self.sim.account_sid}/Recordings/{rec_sid}",
                "RecordingDuration": str(seconds),
                "RecordingStatus": "completed",
                "RecordingChannels": "2",
                "RecordingSource": "DialVerb",
            }
            if dial.get("recording_callback"):
                self._post(call, dial["recording_callback"], rec)
        call.say("system", f"{by} hung up after {seconds} s")
        self.publish(dial["user_id"], "sandbox.hangup", {"call_sid": call.call_sid, "by": by})
        call.state, call.held = "ivr", False
        if by == "caller":
            self._end(call)
            return
        self._follow(
            call,
            dial["action"],
            {
                "DialCallStatus": "completed",
                "DialCallSid": dial["child_sid"],
                "DialCallDuration": str(seconds),
            },
        )

    def _outgoing_ended(self, call: SandboxCall) -> None:
        """The coordinator hung up a click-to-dial call: the patient leg's Dial action, then
        the softphone leg's final status (which records the attempt as connected)."""
        dial = call.dial
        assert dial is not None
        seconds = max(1, int(time.time() - dial["answered_at"]))
        call.say("system", f"coordinator hung up after {seconds} s")
        self._post(
            call,
            dial["action"],
            {
                "CallStatus": "completed",
                "DialCallStatus": "completed",
                "DialCallSid": dial["child_sid"],
                "DialCallDuration": str(seconds),
            },
        )
        call.dial, call.held = None, False
        self._end(call)

    def _end(self, call: SandboxCall) -> None:
        if call.state == "ended":
            return
        call.state, call.gather, call.record = "ended", None, None
        duration = max(1, int(time.time() - call.started_at))
        self._post(
            call, call.status_callback, {"CallStatus": "completed", "CallDuration": str(duration)}
        )
        call.say("system", "call ended")


def _says(body: str) -> list[str]:
    try:
        return [(s.text or "").strip() for s in ET.fromstring(body).iter("Say")]
    except ET.ParseError:
        return []


def _rest(verbs: list[ET.Element]) -> str:
    """The verbs after a Gather or Record, kept to play if the caller gives nothing."""
    if not verbs:
        return ""
    root = ET.Element("Response")
    root.extend(verbs)
    return ET.tostring(root, encoding="unicode")
