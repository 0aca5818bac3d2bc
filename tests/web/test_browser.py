"""The console end to end in headless Chromium, against the app under a real HTTP server.

One sandbox call from the Try-it page rings the coordinator's softphone in another tab, with
the screen pop; answered, hung up, wrapped up with an outcome. Then the inbox (a reply sent,
an opted-out number refused), a QA review (override, finalize) and the wallboard. Screenshots
of each page land in test-output/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.db import utcnow
from contact_center.messaging.models import Conversation
from contact_center.models import Practice, Role, User
from ivr.models import Call
from qa.models import CallOutcome, CallScore, ScoreStatus
from qa.services import score_transcript
from recordings.models import Recording
from routing.models import Presence, PresenceState
from tests.factories import make_practice
from tests.web.conftest import PASSWORD, make_login, screenshot
from transcription.models import Transcript, TranscriptTurn, TranscriptWord

# CI shares two cores between the browser, the server, PostgreSQL and Redis: be patient.
expect.set_options(timeout=20_000)

pytestmark = pytest.mark.committed
PATIENT = "+13105550142"
OPTED_OUT = "+13105550199"


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/p/\d+/"))


def add_scored_transcript(session: Session, call: Call, recording: Recording) -> CallScore:
    """What transcription would store for this call, then the QA feature's automatic score."""
    transcript = Transcript(
        practice_id=call.practice_id,
        call_id=call.id,
        recording_id=recording.id,
        engine="test",
        audio_s=40.0,
        processing_s=1.0,
        word_count=40,
    )
    session.add(transcript)
    session.flush()
    lines = [  # as a recognizer prints it: lower-case words with timings
        ("coordinator", "thank you for calling glow aesthetics this is ava how can i help"),
        ("patient", "hi i would like to book a consultation"),
        ("coordinator", "of course what are you hoping to achieve"),
        ("patient", "smoother skin before my wedding"),
        ("coordinator", "we have thursday at two p m you will get a confirmation text"),
    ]
    for position, (speaker, text) in enumerate(lines):
        start = position * 6.0
        turn = TranscriptTurn(
            transcript_id=transcript.id,
            position=position,
            speaker=speaker,
            start_s=start,
            end_s=start + 5,
            text=text,
        )
        session.add(turn)
        session.flush()
        for index, word in enumerate(text.split()):
            session.add(
                TranscriptWord(
                    transcript_id=transcript.id,
                    turn_id=turn.id,
                    position=index,
                    text=word,
                    start_s=start + index * 0.3,
                    end_s=start + index * 0.3 + 0.25,
                    confidence=0.9,
                )
            )
    session.flush()
    return score_transcript(session, transcript.id, utcnow())


@pytest.fixture
def glow(session: Session) -> dict[str, Any]:
    practice: Practice = make_practice(session, name="Glow Aesthetics", hours="mon-sun 00:00-24:00")
    ava = make_login(session, practice, "ava")
    qa = make_login(session, practice, "quinn", Role.QA_LEAD)
    admin = make_login(session, practice, "adele", Role.ADMIN)
    session.commit()
    return {"practice": practice, "ava": ava, "qa": qa, "admin": admin}


def test_console_end_to_end(
    app: Flask,
    session: Session,
    redis: object,
    live_server: str,
    browser: Any,
    glow: dict[str, Any],
) -> None:
    practice: Practice = glow["practice"]
    ava: User = glow["ava"]
    pid = practice.id
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    console = context.new_page()
    log_in(console, live_server, ava.email or "")
    expect(console).to_have_url(re.compile(rf"/p/{pid}/console$"))
    assert console.evaluate("typeof window.Twilio.Device") == "function"  # the vendored SDK
    expect(console.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    console.get_by_test_id("presence").select_option("available")
    expect(console.locator("#presence-dot")).to_have_class(re.compile("available"))
    session.expire_all()
    assert session.get_one(Presence, ava.id).state is PresenceState.AVAILABLE
    screenshot(console, "01-console-available")

    caller = context.new_page()
    caller.goto(f"/p/{pid}/try")
    caller.get_by_test_id("try-call").click()
    transcript = caller.get_by_test_id("transcript")
    expect(transcript).to_contain_text("Thank you for calling Glow Aesthetics")
    expect(transcript).to_contain_text("press 1 or say yes")
    caller.locator('#keypad button[data-key="1"]').click()
    expect(transcript).to_contain_text("For a new consultation, press 1")
    caller.locator('#keypad button[data-key="1"]').click()
    expect(caller.get_by_test_id("try-state")).to_have_text("ringing the coordinator")

    expect(console.get_by_test_id("answer")).to_be_visible()
    pop = console.get_by_test_id("screen-pop")
    expect(console.get_by_test_id("call-status")).to_contain_text("ringing")
    expect(pop).to_contain_text("new consultation")
    expect(pop).to_contain_text("recording allowed")
    expect(pop).to_contain_text("Glow Aesthetics")
    expect(console.locator("#pop-phone")).to_have_text(PATIENT)
    screenshot(console, "02-softphone-ringing-screen-pop")
    console.get_by_test_id("answer").click()
    expect(console.get_by_test_id("call-status")).to_have_text("On call")
    expect(console.locator("#whisper")).to_contain_text("Glow Aesthetics, new consultation")
    expect(caller.get_by_test_id("try-state")).to_have_text("connected")
    console.get_by_test_id("mute").click()
    expect(console.get_by_test_id("mute")).to_have_text("Unmute")
    console.get_by_test_id("hold").click()
    expect(caller.get_by_test_id("try-state")).to_have_text("on hold")
    screenshot(caller, "03-try-it-connected")
    console.get_by_test_id("hangup").click()
    expect(caller.get_by_test_id("try-state")).to_have_text("call ended")
    expect(console.get_by_test_id("wrapup")).to_be_visible()
    console.get_by_test_id("outcome").select_option("follow_up")
    screenshot(console, "04-wrap-up")
    console.get_by_test_id("save-outcome").click()
    expect(console.get_by_test_id("outcome-saved")).to_be_visible()

    session.expire_all()
    call = session.scalars(select(Call).where(Call.practice_id == pid)).one()
    assert call.answered_by_id == ava.id and call.recording_allowed is True
    assert call.status.value == "completed"
    outcome = session.scalars(select(CallOutcome).where(CallOutcome.call_id == call.id)).one()
    assert outcome.disposition is not None and outcome.disposition.value == "follow_up"
    assert outcome.set_by_id == ava.id
    recording = session.scalars(select(Recording).where(Recording.call_id == call.id)).one()
    assert recording.channels == 2

    # SMS: a patient texts, another opts out; the coordinator replies to both from the inbox.
    sms = caller.get_by_test_id("try-sms")
    sms.get_by_label("Message").fill("Hi, do you have openings this week?")
    sms.get_by_role("button", name="Send text").click()
    expect(caller.locator("#sms-log")).to_contain_text("openings this week")
    expect(caller.locator("#sms-log li")).to_have_count(2)  # the text and the practice's reply
    caller.get_by_test_id("try-from").fill(OPTED_OUT)
    sms.get_by_label("Message").fill("STOP")
    sms.get_by_role("button", name="Send text").click()
    expect(caller.locator("#sms-log li")).to_have_count(4)
    session.expire_all()
    stopped = session.scalars(select(Conversation).where(Conversation.phone == OPTED_OUT)).one()
    assert stopped.opted_out_at is not None

    console.goto(f"/p/{pid}/inbox?c={stopped.id}")
    expect(console.get_by_test_id("opt-out-status")).to_contain_text("Opted out")
    console.get_by_test_id("reply-body").fill("We can see you Thursday at 2 PM.")
    console.get_by_test_id("reply-send").click()
    expect(console.get_by_test_id("send-error")).to_contain_text("opted out")
    screenshot(console, "05-inbox-opted-out-refused")
    console.get_by_test_id("thread").filter(has_text=PATIENT).click()
    console.get_by_test_id("reply-body").fill("Yes, we have Thursday at 2 PM. Shall I book it?")
    console.get_by_test_id("reply-send").click()
    expect(console.get_by_test_id("sent")).to_be_visible()
    expect(console.get_by_test_id("messages")).to_contain_text("Shall I book it?")
    screenshot(console, "06-inbox-replied")

    # QA: transcription and scoring ran; the QA lead overrides a criterion and finalizes.
    score = add_scored_transcript(session, call, recording)
    session.commit()
    reviewer = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    qa_page = reviewer.new_page()
    log_in(qa_page, live_server, glow["qa"].email)
    expect(qa_page).to_have_url(re.compile(rf"/p/{pid}/qa$"))
    expect(qa_page.get_by_test_id("call-list")).to_contain_text(PATIENT)
    screenshot(qa_page, "07-qa-call-list")
    qa_page.get_by_role("link", name="Open").first.click()
    criterion = qa_page.get_by_test_id("criterion-offered_time")
    expect(criterion).to_contain_text("thursday at two p m")
    expect(qa_page.get_by_test_id("transcript")).to_contain_text("what are you hoping")
    qa_page.get_by_test_id("missed-offered_time").click()
    expect(qa_page.get_by_test_id("criterion-offered_time")).to_contain_text("overridden")
    qa_page.get_by_test_id("review-comment").fill("Great greeting; confirm the time back.")
    qa_page.get_by_role("button", name="Save comment").click()
    qa_page.get_by_test_id("finalize").click()
    expect(qa_page.get_by_test_id("finalized")).to_be_visible()
    screenshot(qa_page, "08-qa-call-review")
    session.expire_all()
    final = session.get_one(CallScore, score.id)
    assert final.status is ScoreStatus.FINALIZED and final.score < final.automatic_score

    # The wallboard counts today's call; the admin's settings page renders.
    qa_page.goto(f"/p/{pid}/wallboard")
    expect(qa_page.get_by_test_id("calls-today")).to_have_text("1")
    expect(qa_page.get_by_test_id("presence-list")).to_contain_text("Ava")
    screenshot(qa_page, "09-wallboard")
    admin = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    settings_page = admin.new_page()
    log_in(settings_page, live_server, glow["admin"].email)
    settings_page.goto(f"/p/{pid}/settings")
    expect(settings_page.get_by_test_id("settings-form")).to_be_visible()
    screenshot(settings_page, "10-settings")
    screenshot(caller, "11-try-it")
    for ctx in (context, reviewer, admin):
        ctx.close()
