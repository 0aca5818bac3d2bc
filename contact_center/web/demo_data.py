"""Console logins and sample data for the demo practice (the run command's first start).

Sample calls are written as the product would have left them (call, consent, timeline,
recording metadata, transcript, automatic QA score, outcome), plus a web lead with its callback
task and two SMS conversations, one opted out. Recording audio is not synthesized here: the
recording rows say the audio is still pending, so the QA page shows transcripts and scores.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
from ivr.models import Call, CallStatus, ConsentKind, ConsentRecord, Direction, MenuChoice
from ivr.timeline import add_event
from qa.outcomes import set_outcome
from qa.services import score_transcript
from recordings.models import Recording, RecordingSource
from routing import services as routing
from routing.models import CallbackReason
from transcription.models import Transcript, TranscriptTurn, TranscriptWord

DEMO_PASSWORD = "glow-demo"
DEMO_LOGINS = (
    ("Ava Martinez", "ava", "ava@glow.example", Role.COORDINATOR),
    ("Ben Carter", "ben", "ben@glow.example", Role.COORDINATOR),
    ("Quinn Lee", "quinn", "quinn@glow.example", Role.QA_LEAD),
    ("Adele Moreau", "adele", "adele@glow.example", Role.ADMIN),
)
_CALLS = (
    ("Maya", "Chen", "+13105550142", MenuChoice.CONSULTATION, "follow_up", [
        ("coordinator", "thank you for calling glow aesthetics this is ava how can i help"),
        ("patient", "hi i saw your website and wanted to book a consultation"),
        ("coordinator", "wonderful maya what are you hoping to achieve"),
        ("patient", "i want to look less tired around my eyes"),
        ("coordinator", "we have thursday at two p m you will get a confirmation text"),
    ]),
    ("Jordan", "Price", "+13105550177", MenuChoice.EXISTING, "other", [
        ("coordinator", "glow aesthetics this is ben speaking"),
        ("patient", "i need to move my appointment on friday"),
        ("coordinator", "no problem we can do monday at ten a m instead"),
    ]),
)


def seed_logins(session: Session, practice: Practice, now: datetime) -> list[str]:
    """Demo logins (created once; a changed password is kept)."""
    made = []
    for name, identity, email, role in DEMO_LOGINS:
        user = session.scalars(select(User).where(User.identity == identity)).one_or_none()
        if user is None or not user.password_hash:
            auth.create_login(session, practice, name=name, identity=identity, email=email,
                              role=role, password=DEMO_PASSWORD, now=now)
        made.append(f"{email} ({role.value})")
    return made


def seed_sample_data(session: Session, practice: Practice, now: datetime) -> None:
    """A day of activity: two answered calls with transcripts and scores, a lead, texts."""
    users = {u.identity: u for u in session.scalars(select(User))}
    for index, (first, last, phone, choice, outcome, lines) in enumerate(_CALLS):
        started = now - timedelta(hours=3 - index)
        coordinator = users["ava" if index == 0 else "ben"]
        patient = Patient(practice_id=practice.id, phone=phone, first_name=first, last_name=last,
                          created_at=started)
        session.add(patient)
        session.flush()
        call = Call(
            practice_id=practice.id, call_sid=f"CA{index:032x}", direction=Direction.INBOUND,
            from_number=phone, to_number=practice.phone_number, patient_id=patient.id,
            status=CallStatus.COMPLETED, menu_choice=choice, recording_allowed=True,
            coordinator_id=coordinator.id, answered_by_id=coordinator.id, started_at=started,
            answered_at=started + timedelta(seconds=9 + 10 * index),
            ended_at=started + timedelta(minutes=4), duration_s=231,
        )
        session.add(call)
        session.flush()
        session.add(ConsentRecord(practice_id=practice.id, kind=ConsentKind.RECORDING,
                                  phone=phone, call_id=call.id, granted=True, method="dtmf",
                                  digits="1", at=started + timedelta(seconds=6)))
        for kind in ("incoming", "consent", "menu", "answered"):
            add_event(session, call, kind, started, dedupe_key=f"demo:{kind}")
        recording = Recording(
            practice_id=practice.id, call_id=call.id, recording_sid=f"RE{index:032x}",
            source=RecordingSource.CALL, status="completed",
            url=f"https://api.twilio.com/2010-04-01/Accounts/demo/Recordings/RE{index:032x}",
            channels=2, duration_s=225, received_at=started + timedelta(minutes=4),
        )
        session.add(recording)
        session.flush()
        _transcript(session, call, recording, lines)
        set_outcome(session, call.id, coordinator.id, outcome, now, note=None)
    lead_patient = "+13105550123"
    task = routing.create_callback_task(
        session, practice, lead_patient, CallbackReason.LEAD, now - timedelta(minutes=2),
        note="Web form: interested in a consultation",
    )
    session.add(Lead(practice_id=practice.id, callback_task_id=task.id, name="Riley Brooks",
                     phone=lead_patient, source="website", message="Do you have evening hours?",
                     sms_consent=True, created_at=now - timedelta(minutes=2)))
    _conversation(session, practice, "+13105550142", "Hi! Is there parking near you?", now, False)
    _conversation(session, practice, "+13105550199", "STOP", now - timedelta(hours=1), True)


def _transcript(
    session: Session, call: Call, recording: Recording, lines: list[tuple[str, str]]
) -> None:
    transcript = Transcript(practice_id=call.practice_id, call_id=call.id,
                            recording_id=recording.id, engine="demo", audio_s=225.0,
                            processing_s=0.0, word_count=sum(len(t.split()) for _, t in lines))
    session.add(transcript)
    session.flush()
    for position, (speaker, text) in enumerate(lines):
        start = position * 7.0
        turn = TranscriptTurn(transcript_id=transcript.id, position=position, speaker=speaker,
                              start_s=start, end_s=start + 6, text=text)
        session.add(turn)
        session.flush()
        session.add_all(
            TranscriptWord(transcript_id=transcript.id, turn_id=turn.id, position=i, text=w,
                           start_s=start + i * 0.35, end_s=start + i * 0.35 + 0.3, confidence=0.9)
            for i, w in enumerate(text.split())
        )
    session.flush()
    score_transcript(session, transcript.id, call.ended_at or call.started_at)


def _conversation(
    session: Session, practice: Practice, phone: str, body: str, at: datetime, opted_out: bool
) -> None:
    conversation = Conversation(practice_id=practice.id, phone=phone, needs_reply=not opted_out,
                                last_message_at=at, created_at=at,
                                opted_out_at=at if opted_out else None)
    session.add(conversation)
    session.flush()
    session.add(Message(practice_id=practice.id, conversation_id=conversation.id,
                        direction=MessageDirection.INBOUND, kind=MessageKind.PATIENT, body=body,
                        status=MessageStatus.RECEIVED, created_at=at))
    session.flush()
