"""Plays randomized patient journeys against the product through its public entry points only,
and hands what came out to the checker.

- Patients: signed webhooks through the ``TwilioSimulator`` (calls that follow the TwiML served,
  texts), and the leads API with the practice's key.
- Coordinators: the inbox reply form of the console (logged in, with its CSRF token); their
  softphones answer (or not) the legs the dialer places; the admin command sets them available.
- Time: the product clock (``contact_center.clock.pin``) moves from one moment to the next
  (an action, a job RQ's scheduler holds, or the worker's periodic reconciler), and the
  worker's jobs run at each moment as a burst worker would.

What is checked is only what the product emitted: TwiML bodies and the REST requests the
sandbox adapter recorded (``twilio_requests``), never the product's own tables.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from contact_center import auth, clock, practices
from contact_center.db import session_scope
from contact_center.jobs import ALL_QUEUES, REALTIME
from contact_center.leads import guard
from contact_center.leads import services as leads
from contact_center.models import Practice, Role, TwilioRequest
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator
from contact_center.simulator.script import SimulatedCall
from routing import services as routing
from routing.models import Presence, PresenceState
from tests.compliance import checker
from tests.compliance.journeys import Action, Journey, make_journeys

PASSWORD = "journey-simulation-pass"
STEP = timedelta(minutes=5)
RECONCILE_EVERY = timedelta(hours=1)
RECORDING = {"record-from-answer", "record-from-answer-dual", "record-from-ringing", "true"}
_THREAD = re.compile(r'href="[^"]*\?c=(\d+)"[^>]*>\s*<div class="thread-top"><strong>([^<]*)<')
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class PracticeSpec:
    name: str
    zone: str
    hours: str
    consent_mode: str
    coordinators: int


PRACTICES = (
    PracticeSpec(
        "Glow Aesthetics",
        "America/Los_Angeles",
        "mon-fri 09:00-18:00, sat 10:00-14:00",
        "all_party",
        2,
    ),
    PracticeSpec("Lumen Med Spa", "America/New_York", "mon-sat 08:00-20:00", "all_party", 2),
    PracticeSpec("Bayside Dermatology", "America/New_York", "mon-sun 00:00-24:00", "one_party", 2),
    PracticeSpec("Prairie Skin", "America/Chicago", "mon-fri 07:00-19:00", "all_party", 1),
    PracticeSpec("Summit Aesthetics", "America/Denver", "tue-sat 10:00-19:00", "one_party", 1),
    PracticeSpec("Desert Glow", "America/Phoenix", "mon-fri 06:00-15:00", "all_party", 2),
)


@dataclass
class PracticeSetup:
    id: int
    number: str
    spec: PracticeSpec
    api_key: str
    inbox: FlaskClient
    csrf: str
    coordinators: list[int]
    threads: dict[str, int] = field(default_factory=dict)
    email: str = ""


@dataclass
class Result:
    journeys: int
    counts: Counter[str]
    elapsed_s: float
    moments: int
    examples: dict[str, list[str]]
    activity: Counter[str]

    @property
    def violations(self) -> int:
        return sum(self.counts.values())


class Simulation:
    def __init__(
        self,
        client_factory: Callable[[], FlaskClient],
        twilio: TwilioSimulator,
        redis: Redis,
        *,
        seed: int,
        journeys: int,
        start: datetime,
        days: float = 4.0,
    ) -> None:
        self.client_factory = client_factory
        self.twilio = twilio
        self.redis = redis
        self.rng = random.Random(seed * 7919 + 1)
        self.start = start
        self.end = start + timedelta(days=days)
        self.journeys = make_journeys(seed, journeys, len(PRACTICES), start, days)
        self.log = checker.Log()
        self.activity: Counter[str] = Counter()
        self.practices: list[PracticeSetup] = []
        self._seen_request = 0
        self._leads = 0
        self.queue = Queue(REALTIME, connection=redis)
        self.website = client_factory()  # the practices' web forms: no console session

    # --- the world: practices, coordinators, keys, console logins ----------------------------

    def setup(self, prefix: int = 0) -> None:
        clock.pin(self.start - timedelta(hours=1))
        made = []
        with session_scope() as s:
            for i, spec in enumerate(PRACTICES):
                number = f"+1628555{prefix % 100:02d}{i:02d}"
                practice = practices.create_practice(
                    s,
                    name=f"{spec.name} {prefix}" if prefix else spec.name,
                    number=number,
                    timezone=spec.zone,
                    hours=spec.hours,
                    consent_mode=spec.consent_mode,
                )
                key = leads.create_api_key(s, practice, clock.now(), "website")
                # Days pass in seconds here: per-key limits meant for a real minute would refuse
                # a whole simulated day's forms (the admin's `practice lead-guard --per-key`).
                guard.set_guard_settings(
                    s,
                    practice.id,
                    allowed_countries=None,
                    per_key_limit="1000000/minute",
                    per_address_limit=None,
                    per_destination_limit=None,
                    surge_min_leads=None,
                    surge_factor=None,
                )
                coordinators = []
                for c in range(spec.coordinators):
                    identity = f"p{prefix}x{i}c{c}"
                    if c == 0:  # the one who also answers the inbox logs in to the console
                        user = auth.create_login(
                            s,
                            practice,
                            name=f"Coordinator {c}",
                            identity=identity,
                            email=f"{identity}@sim.example",
                            role=Role.COORDINATOR,
                            password=PASSWORD,
                            now=clock.now(),
                        )
                    else:
                        user = practices.add_staff(
                            s,
                            practice,
                            name=f"Coordinator {c}",
                            identity=identity,
                            role=Role.COORDINATOR,
                            now=clock.now(),
                        )
                    coordinators.append(user.id)
                made.append((practice.id, number, spec, key, coordinators))
                if spec.consent_mode == "one_party":
                    self.log.one_party.add(number)
        for n, (practice_id, number, spec, key, coordinators) in enumerate(made):
            setup = PracticeSetup(
                practice_id, number, spec, key, self.client_factory(), "", coordinators
            )
            setup.email = f"p{prefix}x{n}c0@sim.example"
            self._log_in(setup)
            self.practices.append(setup)
        self._staff_desks()

    def _log_in(self, practice: PracticeSetup) -> None:
        """The coordinator signs in to the console (again when the session has expired)."""
        inbox = practice.inbox
        token = _CSRF.search(inbox.get("/login").get_data(as_text=True))
        assert token, "the login page has no CSRF token"
        response = inbox.post(
            "/login", data={"email": practice.email, "password": PASSWORD, "csrf_token": token[1]}
        )
        assert response.status_code == 302, response.status_code
        home = inbox.get("/", follow_redirects=True).get_data(as_text=True)
        csrf = _CSRF.search(home)
        assert csrf, "the console has no CSRF token"
        practice.csrf = csrf[1]
        self.activity["console logins"] += 1

    def _staff_desks(self) -> None:
        """Coordinators who stepped away (a missed ring sets them away) come back: the admin
        command ``coordinator presence <identity> available``."""
        with session_scope() as s:
            ids = [c for p in self.practices for c in p.coordinators]
            away = s.scalars(
                select(Presence.user_id).where(
                    Presence.user_id.in_(ids),
                    Presence.state.in_((PresenceState.AWAY, PresenceState.OFFLINE)),
                )
            ).all()
            missing = set(ids) - set(
                s.scalars(select(Presence.user_id).where(Presence.user_id.in_(ids))).all()
            )
            for user_id in [*away, *missing]:
                routing.set_presence(s, user_id, PresenceState.AVAILABLE, clock.now())

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> Result:
        quiet = [logging.getLogger(name) for name in ("", "rq", "routing", "contact_center", "ivr")]
        levels = [log.level for log in quiet]
        for log in quiet:
            log.setLevel(logging.WARNING)
        try:
            return self._run()
        finally:
            for log, level in zip(quiet, levels, strict=True):
                log.setLevel(level)

    def _run(self) -> Result:
        started = time.perf_counter()
        actions = sorted(
            ((a.at, j.n, k) for j in self.journeys for k, a in enumerate(j.actions)),
        )
        pending = [(self._slot(at), n, k) for at, n, k in actions if at < self.end]
        moment = self.start
        moments = 0
        next_reconcile = self.start
        i = 0
        while moment <= self.end:
            clock.pin(moment)
            moments += 1
            self._release_scheduled(moment)
            self._staff_desks()
            batch = []
            while i < len(pending) and pending[i][0] <= moment:
                batch.append(pending[i])
                i += 1
            # Patients act in any order; one patient's own actions keep theirs.
            order = {n: self.rng.random() for _, n, _ in batch}
            batch.sort(key=lambda b: (order[b[1]], b[2]))
            for _, n, k in batch:
                journey = self.journeys[n]
                self._act(journey, journey.actions[k])
            if moment >= next_reconcile:
                self._reconcile()
                next_reconcile = moment + RECONCILE_EVERY
            self._work(moment)
            following = [next_reconcile, self.end + STEP]
            if i < len(pending):
                following.append(pending[i][0])
            scheduled = self._next_scheduled()
            if scheduled is not None:
                following.append(max(self._slot(scheduled), moment + STEP))
            moment = max(min(following), moment + timedelta(seconds=1))
        counts = checker.check(self.log)
        return Result(
            journeys=len(self.journeys),
            counts=counts,
            elapsed_s=time.perf_counter() - started,
            moments=moments,
            examples=dict(self.log.examples),
            activity=self.activity,
        )

    def _slot(self, at: datetime) -> datetime:
        """Moments fall on a 5-minute grid (8:00 and 9:00 sharp among them)."""
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        steps = -(-(at - epoch) // STEP)
        return epoch + steps * STEP

    # --- the worker --------------------------------------------------------------------------

    def _release_scheduled(self, moment: datetime) -> None:
        """RQ's scheduler: jobs held for a time that has come go to their queue."""
        registry = ScheduledJobRegistry(queue=self.queue)
        for job_id in registry.get_jobs_to_schedule(int(moment.timestamp())):
            job = self.queue.fetch_job(job_id)
            registry.remove(job_id)
            if job is not None:
                self.queue.enqueue_job(job)

    def _next_scheduled(self) -> datetime | None:
        registry = ScheduledJobRegistry(queue=self.queue)
        first = self.redis.zrange(registry.key, 0, 0, withscores=True)
        if not first:
            return None
        return datetime.fromtimestamp(float(first[0][1]), UTC)

    def _reconcile(self) -> None:
        """What the worker's ticker runs every few seconds."""
        from contact_center.messaging.jobs import reconcile_texts
        from ivr.jobs import reconcile_text_backs
        from routing import dialer_jobs
        from routing import jobs as routing_jobs

        routing_jobs.reconcile()
        dialer_jobs.reconcile_due()
        reconcile_texts()
        reconcile_text_backs()

    def _work(self, moment: datetime) -> None:
        for _ in range(6):
            self._run_jobs()
            legs = self._new_requests(moment)
            if not legs:
                break
            for leg in legs:
                self._play_leg(leg, moment)
            self._staff_desks()
        for name in ALL_QUEUES:
            if name != REALTIME:  # recordings and transcription: not what this checks
                Queue(name, connection=self.redis).empty()

    def _run_jobs(self) -> None:
        """A burst worker without RQ's per-run setup: each queued job is marked started (a
        request made meanwhile gets its follow-up run, as with RQ), performed, and removed. A
        failing job fails the simulation."""
        for _ in range(10_000):
            raw = self.redis.lpop(self.queue.key)
            if raw is None:
                return
            job = self.queue.fetch_job(raw.decode() if isinstance(raw, bytes) else str(raw))
            if job is None:
                continue
            job.set_status(JobStatus.STARTED)
            job.perform()
            job.delete()
            self.activity["jobs run"] += 1

    def _new_requests(self, moment: datetime) -> list[TwilioRequest]:
        with session_scope() as s:
            rows = s.scalars(
                select(TwilioRequest)
                .where(TwilioRequest.id > self._seen_request)
                .order_by(TwilioRequest.id)
            ).all()
            s.expunge_all()
        legs = []
        for row in rows:
            self._seen_request = max(self._seen_request, row.id)
            form = {k: str(v) for k, v in (row.form or {}).items()}
            if row.method != "POST":
                continue
            if row.url.endswith("/Messages.json"):
                self.activity["texts sent"] += 1
                self.log.texts.append(
                    checker.Text(
                        moment, form.get("From", ""), form.get("To", ""), form.get("Body", "")
                    )
                )
            elif row.url.endswith("/Calls.json"):
                legs.append(row)
            elif "/Recordings.json" in row.url:
                sid = row.url.split("/Calls/")[1].split("/")[0] if "/Calls/" in row.url else ""
                self.log.recordings.append(checker.Recording(moment, "", "", sid))
        return legs

    # --- coordinator legs the dialer placed ------------------------------------------------------

    def _play_leg(self, row: TwilioRequest, moment: datetime) -> None:
        form = {k: str(v) for k, v in (row.form or {}).items()}
        assert row.response_sid
        self.activity["coordinator legs"] += 1
        coordinator_answers = self.rng.random() < 0.9
        patient = self.rng.choice(
            [
                DialPlan("completed", 90),
                DialPlan("no-answer", 0),
                DialPlan("no-answer", 0),
                DialPlan("busy", 0),
            ]
        )
        digits = self.rng.choice(["1", "2"]) if patient.status == "completed" else None
        callee = Caller(answers=[Answer(digits=digits)] if digits else [], dials=[patient])
        pickup = DialPlan("completed", 90) if coordinator_answers else DialPlan("no-answer", 0)
        call = self.twilio.outbound_call(row.response_sid, form, callee, pickup)
        attempt = parse_qs(urlsplit(form.get("Url", "")).query).get("attempt", ["?"])[0]
        self._dials_in(call.requests, form.get("From", ""), attempt, call.call_sid, moment)
        if coordinator_answers and self.rng.random() < 0.1:
            # Twilio retries a webhook it got no answer to in time: the connect URL again.
            status, body = self.twilio.post(
                form["Url"],
                {
                    "CallSid": call.call_sid,
                    "AccountSid": self.twilio.account_sid,
                    "From": form.get("From", ""),
                    "To": form.get("To", ""),
                    "CallStatus": "in-progress",
                    "Direction": "outbound-api",
                },
            )
            self.activity["connect retries"] += 1
            if status == 200:
                self._dials_in(
                    [_Body(form["Url"], body)], form.get("From", ""), attempt, call.call_sid, moment
                )

    def _dials_in(
        self, requests: list[Any], practice: str, attempt: str, sid: str, moment: datetime
    ) -> None:
        for request in requests:
            for dial in _parse(request.body).iter("Dial"):
                for number in dial.iter("Number"):
                    to = (number.text or "").strip()
                    self.activity["patients dialed"] += 1
                    self.log.dials.append(checker.PatientDial(moment, practice, to, attempt, sid))
                    if dial.get("record", "do-not-record") in RECORDING:
                        self.log.recordings.append(checker.Recording(moment, practice, to, sid))

    # --- what patients and coordinators do ---------------------------------------------------

    def _act(self, journey: Journey, action: Action) -> None:
        practice = self.practices[journey.practice]
        self.activity[action.kind] += 1
        if action.kind == "call":
            self._call(journey, practice, action.detail)
        elif action.kind in ("text", "stop", "plain_stop", "start"):
            self._text(journey, practice, str(action.detail["body"]))
        elif action.kind == "lead":
            self._lead(journey, practice, bool(action.detail["sms_consent"]))
        elif action.kind == "reply":
            self._reply(journey, practice, str(action.detail["body"]))

    def _call(self, journey: Journey, practice: PracticeSetup, d: dict[str, object]) -> None:
        now = clock.now()
        consent = str(d["consent"])
        answers = []
        if practice.spec.consent_mode == "all_party":
            answers.append(
                {
                    "1": Answer(digits="1"),
                    "2": Answer(digits="2"),
                    "silence": Answer(),
                    "yes": Answer(speech="yes", confidence=0.95),
                    "unsure yes": Answer(speech="yes", confidence=0.3),
                    "no": Answer(speech="no", confidence=0.95),
                }[consent]
            )
        answers.append(Answer(digits=str(d["menu"])))
        plan = DialPlan("completed", 60) if d["coordinator_answers"] else DialPlan("no-answer", 0)
        caller = Caller(
            answers=answers,
            dials=[plan, plan, plan],
            voicemail_seconds=[int(str(d["voicemail_seconds"]))],
            hold_answers=[Answer(digits="*"), Answer(digits="2")]
            if d["queue"] == "callback"
            else [],
            hold_passes=1,
        )
        self.log.contacts.append((now, practice.number, journey.phone))
        call = self.twilio.call(journey.phone, practice.number, caller)
        if call.waiting:
            self.twilio.hang_up(call)
        if consent in ("1", "yes"):
            self.log.consented_calls.add(call.call_sid)
        self._recordings_in(call, practice, journey.phone, now)

    def _recordings_in(
        self, call: SimulatedCall, practice: PracticeSetup, phone: str, now: datetime
    ) -> None:
        for request in call.requests:
            root = _parse(request.body)
            recorded = any(
                d.get("record", "do-not-record") in RECORDING for d in root.iter("Dial")
            ) or any(True for _ in root.iter("Recording"))
            if recorded:
                self.activity["calls recorded"] += 1
                self.log.recordings.append(
                    checker.Recording(now, practice.number, phone, call.call_sid)
                )

    def _text(self, journey: Journey, practice: PracticeSetup, body: str) -> None:
        from contact_center.simulator import new_sid

        now = clock.now()
        self.log.patient_texts.append(
            (checker.next_seq(), now, practice.number, journey.phone, body)
        )
        self.log.contacts.append((now, practice.number, journey.phone))
        status, xml = self.twilio.post(
            "/twilio/sms/incoming",
            {
                "MessageSid": new_sid("SM"),
                "AccountSid": self.twilio.account_sid,
                "From": journey.phone,
                "To": practice.number,
                "Body": body,
                "NumMedia": "0",
            },
        )
        assert status == 200, (status, xml)
        for message in _parse(xml).iter("Message"):
            self.activity["texts sent"] += 1
            self.log.texts.append(
                checker.Text(now, practice.number, journey.phone, message.text or "")
            )

    def _lead(self, journey: Journey, practice: PracticeSetup, sms_consent: bool) -> None:
        self._leads += 1
        self.log.contacts.append((clock.now(), practice.number, journey.phone))
        body = {
            "name": journey.name,
            "phone": journey.phone,
            "sms_consent": sms_consent,
            "consent_wording": f"I agree to receive texts from {practice.spec.name}.",
            "source": "website",
        }
        response = self.website.post(
            "/api/leads",
            data=json.dumps(body),
            headers={
                "Authorization": f"Bearer {practice.api_key}",
                "Idempotency-Key": f"sim-{self._leads}",
                "Content-Type": "application/json",
            },
            # Each patient fills in the form from their own browser.
            environ_base={
                "REMOTE_ADDR": f"10.{journey.n >> 16 & 255}.{journey.n >> 8 & 255}."
                f"{journey.n & 255}"
            },
        )
        assert response.status_code in (201, 422, 429), response.get_data(as_text=True)
        if response.status_code == 429:
            self.activity["leads rate-limited"] += 1

    def _reply(self, journey: Journey, practice: PracticeSetup, body: str) -> None:
        thread = self._thread_of(practice, journey)
        if thread is None:
            return  # nothing to reply to: the patient never texted nor got a text
        for _ in range(2):
            response = practice.inbox.post(
                f"/p/{practice.id}/inbox/{thread}/reply",
                data={"body": body, "csrf_token": practice.csrf},
                headers={"X-CSRF-Token": practice.csrf},
            )
            if not _to_login(response):
                break
            self._log_in(practice)
        assert response.status_code in (302, 422) and not _to_login(response), response.status
        self.activity[
            "inbox replies sent" if response.status_code == 302 else "inbox replies refused"
        ] += 1

    def _thread_of(self, practice: PracticeSetup, journey: Journey) -> int | None:
        for label in (journey.phone, journey.name):
            if label in practice.threads:
                return practice.threads[label]
        response = practice.inbox.get(f"/p/{practice.id}/inbox")
        if _to_login(response):
            self._log_in(practice)
            response = practice.inbox.get(f"/p/{practice.id}/inbox")
        assert response.status_code == 200, response.status
        for thread_id, label in _THREAD.findall(response.get_data(as_text=True)):
            practice.threads[label.strip()] = int(thread_id)
        for label in (journey.phone, journey.name):
            if label in practice.threads:
                return practice.threads[label]
        self.activity["inbox replies with no thread"] += 1
        return None


def _to_login(response: Any) -> bool:
    return response.status_code in (301, 302, 303) and "/login" in (response.location or "")


@dataclass(frozen=True)
class _Body:
    url: str
    body: str


def _parse(body: str) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return ET.Element("Response")


def run_simulation(
    client_factory: Callable[[], FlaskClient],
    twilio: TwilioSimulator,
    redis: Redis,
    *,
    seed: int,
    journeys: int,
    start: datetime,
    days: float = 4.0,
    prefix: int = 0,
) -> Result:
    sim = Simulation(
        client_factory, twilio, redis, seed=seed, journeys=journeys, start=start, days=days
    )
    sim.setup(prefix)
    return sim.run()


def report(result: Result) -> str:
    lines = [
        f"{result.journeys} journeys in {result.elapsed_s:.1f} s "
        f"({result.journeys / max(result.elapsed_s, 1e-9):.1f} journeys/s, "
        f"{result.moments} moments)",
        "activity: " + ", ".join(f"{k} {v}" for k, v in sorted(result.activity.items())),
    ]
    for rule in checker.RULES:
        lines.append(f"  {rule:32s} {result.counts[rule]}")
        for example in result.examples.get(rule, [])[:3]:
            lines.append(f"      e.g. {example}")
    return "\n".join(lines)


__all__ = ["PRACTICES", "Practice", "Result", "Simulation", "report", "run_simulation"]
