"""Console logins and sample data for the demo practice (the run command's first start).

Sample calls are written as the product would have left them: call, consent, timeline, the
recording's metadata and its audio stored encrypted by the recording store (as the download job
stores it), the transcript, the automatic QA score and the coordinator's outcome. Plus a web lead
with its callback task, two SMS conversations (one opted out) and a week of appointments.

The audio of each call was synthesized once with Festival by ``scripts/make-demo-audio.py`` and
ships in ``contact_center/demo_audio/``: ``<audio>.wav``, two channels at 8 kHz in mu-law like a
Twilio dual-channel recording (patient on channel 1, coordinator on channel 2), and
``<audio>.json``, where each line of the script sits in it. The transcript's words are spread over
their line's span, so the QA page's evidence seeks to the moment a phrase was said. After
changing a script in ``DEMO_CALLS``, rerun that script and commit what it writes.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import auth
from contact_center.leads.models import Lead
from contact_center.messaging.models import (
    Conversation,
    Message,
    MessageDirection,
    MessageKind,
    MessageStatus,
)
from contact_center.models import Patient, Practice, Role, User
from contact_center.runtime import current_settings
from contact_center.web.demo_appointments import seed_appointments
from ivr.events import RecordingStatus
from ivr.models import Call, CallStatus, ConsentKind, ConsentRecord, Direction, MenuChoice
from ivr.timeline import add_event
from qa.models import Disposition
from qa.outcomes import set_outcome
from qa.scoring import normalize
from qa.services import score_transcript
from recordings import services as recordings
from recordings.models import RecordingSource
from recordings.storage import RecordingStore, store_for
from routing import services as routing
from routing.models import CallbackReason
from transcription import services as transcripts
from transcription.engines import Word
from transcription.turns import merge_turns

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "glow-demo"
DEMO_LOGINS = (
    ("Ava Martinez", "ava", "ava@glow.example", Role.COORDINATOR),
    ("Ben Carter", "ben", "ben@glow.example", Role.COORDINATOR),
    ("Quinn Lee", "quinn", "quinn@glow.example", Role.QA_LEAD),
    ("Adele Moreau", "adele", "adele@glow.example", Role.ADMIN),
)
DEMO_AUDIO_PACKAGE = "contact_center"
DEMO_AUDIO_DIR = "demo_audio"
PATIENT = "patient"
COORDINATOR = "coordinator"
# The demo transcript is the script itself, so every word is as sure as a clear recognition.
WORD_CONFIDENCE = 0.95


@dataclass(frozen=True)
class DemoCall:
    """One sample inbound call: who called, who answered, what was said, how it ended."""

    audio: str  # file name (without suffix) under contact_center/demo_audio/
    first_name: str
    last_name: str
    phone: str
    menu_choice: MenuChoice
    coordinator: str  # the answering coordinator's identity
    outcome: Disposition
    booked: tuple[int, int] | None  # (weekday, hour) in the practice's time zone, if booked
    lines: tuple[tuple[str, str], ...]  # (speaker, what they say), in order


# Each meets some of the default scorecard's criteria and misses others, so the QA page shows
# both: Maya's call misses only the recording disclosure; Jordan's discloses it but never asks
# about goals, sets no expectations, gives no next steps and ends curtly; Sofia's does not
# disclose, ask about goals or give next steps.
DEMO_CALLS: tuple[DemoCall, ...] = (
    DemoCall(
        "maya-consultation",
        "Maya",
        "Chen",
        "+13105550142",
        MenuChoice.CONSULTATION,
        "ava",
        Disposition.BOOKED_CONSULTATION,
        (3, 14),
        (
            (COORDINATOR, "Thank you for calling Glow Aesthetics, this is Ava. How can I help?"),
            (PATIENT, "Hi, this is Maya. I'd like to book a consultation."),
            (COORDINATOR, "Of course, Maya. What are you hoping to achieve?"),
            (PATIENT, "I look tired around my eyes."),
            (
                COORDINATOR,
                "The visit takes about thirty minutes. I have you down for Thursday at two p.m.",
            ),
            (PATIENT, "Perfect."),
            (COORDINATOR, "You will get a confirmation text. Have a great day, Maya!"),
        ),
    ),
    DemoCall(
        "jordan-reschedule",
        "Jordan",
        "Price",
        "+13105550177",
        MenuChoice.EXISTING,
        "ben",
        Disposition.BOOKED_TREATMENT,
        (0, 10),
        (
            (COORDINATOR, "Glow Aesthetics, this is Ben speaking. This call is recorded."),
            (PATIENT, "Hi, it's Jordan Price. I need to move my Botox appointment on Friday."),
            (COORDINATOR, "Sure, Jordan. I can do Monday at ten a.m. instead."),
            (PATIENT, "Monday at ten works."),
            (COORDINATOR, "Okay, I have you down for Monday at ten."),
            (PATIENT, "Thanks, bye."),
            (COORDINATOR, "Bye."),
        ),
    ),
    DemoCall(
        "sofia-pricing",
        "Sofia",
        "Patel",
        "+13105550168",
        MenuChoice.OTHER,
        "ava",
        Disposition.FOLLOW_UP,
        None,
        (
            (COORDINATOR, "Thanks for calling Glow Aesthetics, my name is Ava."),
            (PATIENT, "Hi, I'm Sofia. How much is Botox?"),
            (COORDINATOR, "It's priced per unit, Sofia. Most people need twenty to forty units."),
            (COORDINATOR, "At your consultation, the nurse will walk you through a plan."),
            (PATIENT, "Okay. Let me check my schedule."),
            (COORDINATOR, "We have Saturday at eleven in the morning."),
            (PATIENT, "I'll call you back."),
            (COORDINATOR, "Sounds good. Take care!"),
        ),
    ),
)


@dataclass(frozen=True)
class SpokenLine:
    """A line of a demo call as placed in its audio (seconds from the start of the recording)."""

    speaker: str
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class DemoAudio:
    """A demo call's synthesized recording and where each line sits in it."""

    wav: bytes
    sample_rate: int
    channels: int
    duration_s: float
    lines: tuple[SpokenLine, ...]


def demo_audio(name: str) -> DemoAudio:
    """The packaged recording ``name`` and its line timings (written by make-demo-audio.py)."""
    folder = resources.files(DEMO_AUDIO_PACKAGE).joinpath(DEMO_AUDIO_DIR)
    meta = json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8"))
    return DemoAudio(
        wav=folder.joinpath(f"{name}.wav").read_bytes(),
        sample_rate=int(meta["sample_rate"]),
        channels=int(meta["channels"]),
        duration_s=float(meta["duration_s"]),
        lines=tuple(
            SpokenLine(line["speaker"], line["text"], float(line["start_s"]), float(line["end_s"]))
            for line in meta["lines"]
        ),
    )


def line_words(line: SpokenLine) -> list[Word]:
    """The line's words as a recognizer prints them, spread over its span by word length."""
    texts = normalize(line.text).split()
    total = sum(len(t) for t in texts) or 1
    span = line.end_s - line.start_s
    words, done = [], 0
    for text in texts:
        start = line.start_s + span * done / total
        done += len(text)
        end = line.start_s + span * done / total
        words.append(Word(text, round(start, 3), round(end, 3), WORD_CONFIDENCE))
    return words


def seed_logins(session: Session, practice: Practice, now: datetime) -> list[str]:
    """Demo logins (created once; a changed password is kept)."""
    made = []
    for name, identity, email, role in DEMO_LOGINS:
        user = session.scalars(select(User).where(User.identity == identity)).one_or_none()
        if user is None or not user.password_hash:
            auth.create_login(
                session,
                practice,
                name=name,
                identity=identity,
                email=email,
                role=role,
                password=DEMO_PASSWORD,
                now=now,
            )
        made.append(f"{email} ({role.value})")
    return made


def seed_sample_data(session: Session, practice: Practice, now: datetime) -> None:
    """A day of activity: answered calls with recordings, transcripts and scores, a lead, texts.

    Needs the process's settings (``create_app`` installs them): the recordings are encrypted
    with RECORDINGS_KEY into RECORDINGS_DIR. Without a key (only tests build settings that way)
    the recordings stay pending, as if their download had not run yet.
    """
    users = {u.identity: u for u in session.scalars(select(User))}
    settings = current_settings()
    store = store_for(settings) if settings.recordings_key else None
    if store is None:
        logger.warning("RECORDINGS_KEY is unset: demo recordings are left pending, without audio")
    for index, demo_call in enumerate(DEMO_CALLS):
        started = now - timedelta(hours=len(DEMO_CALLS) - index, minutes=7 * index)
        _seed_call(
            session, practice, users[demo_call.coordinator], demo_call, index, started, store
        )
    lead_patient = "+13105550123"
    task = routing.create_callback_task(
        session,
        practice,
        lead_patient,
        CallbackReason.LEAD,
        now - timedelta(minutes=2),
        note="Web form: interested in a consultation",
    )
    session.add(
        Lead(
            practice_id=practice.id,
            callback_task_id=task.id,
            name="Riley Brooks",
            phone=lead_patient,
            source="website",
            message="Do you have evening hours?",
            sms_consent=True,
            created_at=now - timedelta(minutes=2),
        )
    )
    _conversation(session, practice, "+13105550142", "Hi! Is there parking near you?", now, False)
    _conversation(session, practice, "+13105550199", "STOP", now - timedelta(hours=1), True)
    seed_appointments(session, practice, users["ava"].id, now)


def _seed_call(
    session: Session,
    practice: Practice,
    coordinator: User,
    demo_call: DemoCall,
    index: int,
    started: datetime,
    store: RecordingStore | None,
) -> None:
    """One answered, recorded call, as the webhooks and the jobs after it would leave it."""
    audio = demo_audio(demo_call.audio)
    answered = started + timedelta(seconds=12 + 5 * index)
    ended = answered + timedelta(seconds=math.ceil(audio.duration_s))
    patient = Patient(
        practice_id=practice.id,
        phone=demo_call.phone,
        first_name=demo_call.first_name,
        last_name=demo_call.last_name,
        created_at=started,
    )
    session.add(patient)
    session.flush()
    call = Call(
        practice_id=practice.id,
        call_sid=f"CA{index:032x}",
        direction=Direction.INBOUND,
        from_number=demo_call.phone,
        to_number=practice.phone_number,
        patient_id=patient.id,
        status=CallStatus.COMPLETED,
        menu_choice=demo_call.menu_choice,
        recording_allowed=True,
        coordinator_id=coordinator.id,
        answered_by_id=coordinator.id,
        started_at=started,
        answered_at=answered,
        ended_at=ended,
        duration_s=int((ended - started).total_seconds()),
    )
    session.add(call)
    session.flush()
    consented = started + timedelta(seconds=6)
    session.add(
        ConsentRecord(
            practice_id=practice.id,
            kind=ConsentKind.RECORDING,
            phone=demo_call.phone,
            call_id=call.id,
            granted=True,
            method="dtmf",
            digits="1",
            at=consented,
        )
    )
    for kind, at in (
        ("incoming", started),
        ("consent", consented),
        ("menu", consented + timedelta(seconds=4)),
        ("answered", answered),
    ):
        add_event(session, call, kind, at, dedupe_key=f"demo:{kind}")

    recording_sid = f"RE{index:032x}"
    received = ended + timedelta(seconds=2)
    recordings.attach_recording(
        session,
        RecordingStatus(
            call_sid=call.call_sid,
            recording_sid=recording_sid,
            status="completed",
            url=f"https://api.twilio.com/2010-04-01/Accounts/demo/Recordings/{recording_sid}",
            channels=audio.channels,
            duration_s=round(audio.duration_s),
        ),
        RecordingSource.CALL,
        received,
    )
    transcribed = received
    if store is not None:
        recordings.begin_download(session, recording_sid)
        stored = store.write(practice.id, recording_sid, [audio.wav])
        transcribed = received + timedelta(seconds=3)
        recordings.mark_stored(session, recording_sid, stored, transcribed)
    rec = recordings.recording_by_sid(session, recording_sid)

    by_speaker: dict[str, list[Word]] = {}
    for line in audio.lines:
        by_speaker.setdefault(line.speaker, []).extend(line_words(line))
    transcript = transcripts.store_transcript(
        session,
        transcripts.RecognizedCall(
            recording_id=rec.id,
            call_id=call.id,
            practice_id=practice.id,
            engine="demo",
            audio_s=audio.duration_s,
            processing_s=0.0,
            turns=merge_turns(by_speaker),
        ),
        transcribed + timedelta(seconds=20),
    )
    session.flush()
    score_transcript(session, transcript.id, transcribed + timedelta(seconds=21))
    booked_for = None
    if demo_call.booked is not None:
        booked_for = _next_local(started, practice.timezone, *demo_call.booked)
    set_outcome(
        session,
        call.id,
        coordinator.id,
        demo_call.outcome,
        ended + timedelta(seconds=40),
        booked_for=booked_for,
        note=None,
    )


def _next_local(after: datetime, zone: str, weekday: int, hour: int) -> datetime:
    """The next ``weekday`` (0 is Monday) at ``hour`` o'clock in ``zone``, after ``after``."""
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7 or 7)
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(after.tzinfo)


def _conversation(
    session: Session, practice: Practice, phone: str, body: str, at: datetime, opted_out: bool
) -> None:
    conversation = Conversation(
        practice_id=practice.id,
        phone=phone,
        needs_reply=not opted_out,
        last_message_at=at,
        created_at=at,
        opted_out_at=at if opted_out else None,
    )
    session.add(conversation)
    session.flush()
    session.add(
        Message(
            practice_id=practice.id,
            conversation_id=conversation.id,
            direction=MessageDirection.INBOUND,
            kind=MessageKind.PATIENT,
            body=body,
            status=MessageStatus.RECEIVED,
            created_at=at,
        )
    )
    session.flush()
