"""The healthcare texting rules, enforced by the one send function for care texts: 160
characters, the practice named, the opt-out line, one a day and three a week per patient across
every sequence; refusals carry a reason and stay visible in the thread."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.messaging import care, services
from contact_center.messaging.jobs import deliver_message
from contact_center.messaging.models import Message, MessageClass, MessageKind, MessageStatus
from contact_center.models import Practice
from tests.conftest import at_local
from tests.factories import make_practice
from tests.outbound import rest_requests

NY = "America/New_York"
LA = "America/Los_Angeles"
PATIENT = "+12125550142"  # New York
OTHER = "+12125550143"
OK = "You have an appointment at Glow Aesthetics on Thu May 3 at 2:00 PM. Reply STOP to opt out."


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def care_text(
    session: Session,
    practice: Practice,
    at: datetime,
    body: str = OK,
    phone: str = PATIENT,
    kind: MessageKind = MessageKind.REMINDER,
) -> Message:
    clock.pin(at)
    message = services.send_sms(
        session, practice, phone, body, kind, at, message_class=MessageClass.CARE
    )
    session.flush()
    return message


def refusal(session: Session, practice: Practice, at: datetime, **kw: object) -> str:
    with pytest.raises(services.SmsRefused) as refused:
        care_text(session, practice, at, **kw)  # type: ignore[arg-type]
    return refused.value.reason


def refused_rows(session: Session) -> list[tuple[str, str | None]]:
    rows = session.scalars(
        select(Message).where(Message.status == MessageStatus.REFUSED).order_by(Message.id)
    )
    return [(m.body, m.refused_reason) for m in rows]


def test_a_care_text_is_at_most_160_characters_names_the_practice_and_carries_the_opt_out(
    session: Session, practice: Practice
) -> None:
    day = at_local(NY, 2026, 11, 24, 10, 0)
    exactly_160 = OK + " " + "x" * (160 - len(OK) - 1)
    assert len(exactly_160) == 160
    too_long = exactly_160 + "x"
    assert refusal(session, practice, day, body=too_long) == "care_too_long"
    assert (
        refusal(
            session,
            practice,
            day,
            body="You have an appointment on Thu May 3 at 2:00 PM. Reply STOP to opt out.",
        )
        == "care_practice_not_named"
    )
    assert (
        refusal(session, practice, day, body="Glow Aesthetics: see you Thu May 3 at 2:00 PM.")
        == "care_no_opt_out"
    )
    # Each refusal is kept in the thread with a reason a person can read; none was sent.
    rows = refused_rows(session)
    assert [reason.split(":")[0] for _, reason in rows if reason] == [
        "care_too_long",
        "care_practice_not_named",
        "care_no_opt_out",
    ]
    assert "at most 160 characters; this one has 161" in (rows[0][1] or "")
    # Refused texts do not use up the day: the compliant one goes.
    message = care_text(session, practice, day, body=exactly_160)
    assert message.status is MessageStatus.PENDING and message.message_class is MessageClass.CARE


def test_one_care_text_per_patient_per_local_day(session: Session, practice: Practice) -> None:
    care_text(session, practice, at_local(NY, 2026, 11, 24, 20, 0))
    # Later the same evening, the patient's day (New York), not the practice's (Los Angeles).
    assert refusal(session, practice, at_local(NY, 2026, 11, 24, 20, 50)) == "care_daily_cap"
    # Another patient is not affected.
    care_text(session, practice, at_local(NY, 2026, 11, 24, 20, 50), phone=OTHER)
    # Twelve hours later is the patient's next day: allowed (a rolling 24 h would refuse it).
    care_text(session, practice, at_local(NY, 2026, 11, 25, 8, 0))
    assert [r.split(":")[0] for _, r in refused_rows(session) if r] == ["care_daily_cap"]


def test_three_care_texts_per_rolling_week_across_every_sequence(
    session: Session, practice: Practice
) -> None:
    # Reminders for two appointments and a check-in (another kind of care text) share one cap.
    care_text(session, practice, at_local(NY, 2026, 11, 23, 10, 0))
    care_text(session, practice, at_local(NY, 2026, 11, 24, 10, 0))
    care_text(session, practice, at_local(NY, 2026, 11, 25, 10, 0), kind=MessageKind.ACKNOWLEDGMENT)
    assert refusal(session, practice, at_local(NY, 2026, 11, 26, 10, 0)) == "care_weekly_cap"
    assert refusal(session, practice, at_local(NY, 2026, 11, 30, 9, 59)) == "care_weekly_cap"
    # Seven days after the first one, a place is free again.
    care_text(session, practice, at_local(NY, 2026, 11, 30, 10, 0))
    care_text(session, practice, at_local(NY, 2026, 12, 1, 10, 0))  # 25th, 30th, 1st: three
    # A fourth within seven days of the 25th's, then one exactly seven days after it.
    assert refusal(session, practice, at_local(NY, 2026, 12, 2, 9, 59)) == "care_weekly_cap"
    care_text(session, practice, at_local(NY, 2026, 12, 2, 10, 0))


def test_conversation_and_staff_texts_do_not_count_and_are_not_held_to_care_rules(
    session: Session, practice: Practice
) -> None:
    at = at_local(NY, 2026, 11, 24, 10, 0)
    clock.pin(at)
    for body in ("Sure, 3 PM works!", "See you then"):  # no practice name, no opt-out line
        services.send_sms(
            session, practice, PATIENT, body, MessageKind.COORDINATOR, at, direct_reply=True
        )
    care_text(session, practice, at)
    assert refusal(session, practice, at) == "care_daily_cap"


def test_marketing_needs_written_consent(session: Session, practice: Practice) -> None:
    at = at_local(NY, 2026, 11, 24, 10, 0)
    with pytest.raises(services.SmsRefused) as refused:
        services.send_sms(
            session,
            practice,
            PATIENT,
            "20% off this week at Glow Aesthetics! Reply STOP to opt out.",
            MessageKind.COORDINATOR,
            at,
            message_class=MessageClass.MARKETING,
        )
    assert refused.value.reason == "marketing_consent_required"


def test_a_reminder_kind_is_a_care_text_even_when_the_caller_does_not_say(
    session: Session, practice: Practice
) -> None:
    at = at_local(NY, 2026, 11, 24, 10, 0)
    with pytest.raises(services.SmsRefused) as refused:
        services.send_sms(session, practice, PATIENT, "See you soon!", MessageKind.REMINDER, at)
    assert refused.value.reason == "care_practice_not_named"


def test_a_care_text_that_slips_into_a_day_that_already_had_one_is_refused_at_delivery(
    session: Session, practice: Practice, redis: Redis
) -> None:
    late = care_text(session, practice, at_local(NY, 2026, 11, 24, 20, 30))
    # Its job never ran that evening (worker down); the next day's reminder goes out at 9:00.
    morning = care_text(session, practice, at_local(NY, 2026, 11, 25, 9, 0))
    deliver_message(morning.id)
    clock.pin(at_local(NY, 2026, 11, 25, 9, 5))
    deliver_message(late.id)
    session.refresh(late)
    assert late.status is MessageStatus.REFUSED
    assert (late.refused_reason or "").startswith("care_daily_cap")
    assert [r.form["Body"] for r in rest_requests(session, "Messages")] == [OK]


def test_a_care_text_deferred_by_quiet_hours_counts_on_the_day_it_goes_out(
    session: Session, practice: Practice, redis: Redis
) -> None:
    deferred = care_text(session, practice, at_local(NY, 2026, 11, 24, 22, 0))
    assert deferred.send_after == at_local(NY, 2026, 11, 25, 8, 0)
    # It holds the 25th (its day), so the 24th is still free and the 25th is not.
    care_text(session, practice, at_local(NY, 2026, 11, 24, 20, 59))
    assert refusal(session, practice, at_local(NY, 2026, 11, 25, 12, 0)) == "care_daily_cap"
    clock.pin(at_local(NY, 2026, 11, 25, 8, 0))
    deliver_message(deferred.id)
    session.refresh(deferred)
    assert deferred.status is MessageStatus.QUEUED


@pytest.mark.committed
def test_two_workers_cannot_both_take_the_days_only_place(session: Session) -> None:
    with session.begin():
        practice = make_practice(session, name="Glow Aesthetics", timezone=LA)
    at = at_local(NY, 2026, 11, 24, 10, 0)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def send() -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                services.send_sms(
                    s,
                    s.get_one(Practice, practice.id),
                    PATIENT,
                    OK,
                    MessageKind.REMINDER,
                    at,
                    message_class=MessageClass.CARE,
                )
            outcomes.append("sent")
        except services.SmsRefused as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["care_daily_cap"] * 5 + ["sent"]
    with session_scope() as s:
        accepted = s.scalars(
            select(Message).where(
                Message.message_class == MessageClass.CARE,
                Message.status != MessageStatus.REFUSED,
            )
        ).all()
        assert len(accepted) == 1


def test_the_rules_in_one_place() -> None:
    assert (care.MAX_CHARS, care.PER_DAY, care.PER_WEEK) == (160, 1, 3)
    assert care.OPT_OUT_LINE == "Reply STOP to opt out."
