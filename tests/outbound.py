"""Plays the product's outbound calls (recorded ``Calls.create`` requests) with
``TwilioSimulator.outbound_call``: the coordinator's softphone leg fetches the ``Url`` TwiML, then
follows the bridge ``<Dial><Number callerId=...>`` to the patient, and the leg's status callbacks
are sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.models import TwilioRequest
from contact_center.simulator import Answer, Caller, DialPlan, SimulatedCall, TwilioSimulator


def rest_requests(session: Session, resource: str) -> list[TwilioRequest]:
    """Recorded POSTs creating ``resource`` ("Calls" or "Messages"), oldest first."""
    rows = session.scalars(select(TwilioRequest).order_by(TwilioRequest.id)).all()
    return [r for r in rows if r.method == "POST" and r.url.endswith(f"/{resource}.json")]


@dataclass(frozen=True)
class Leg:
    """What happens on one coordinator leg."""

    coordinator: str = "answer"  # answer, no-answer, busy
    patient: DialPlan = DialPlan("completed", 60)
    outcome_digits: str | None = "1"  # 1 spoke with the patient, 2 voicemail, None silence


def play_outbound(
    twilio: TwilioSimulator, request: TwilioRequest, leg: Leg | None = None
) -> SimulatedCall:
    """Play one outbound call the product asked Twilio to place."""
    leg = leg or Leg()
    assert request.response_sid, "the recorded request has no CallSid"
    answers = [Answer(digits=leg.outcome_digits)] if leg.outcome_digits else []
    pickup = (
        DialPlan("completed", leg.patient.talk_seconds)
        if leg.coordinator == "answer"
        else DialPlan(leg.coordinator, 0)
    )
    return twilio.outbound_call(
        request.response_sid,
        {name: str(value) for name, value in request.form.items()},
        Caller(answers=answers, dials=[leg.patient]),
        pickup,
    )


def patient_dials(call: SimulatedCall) -> list[dict[str, str]]:
    return [d for d in call.dialed if d["noun"] == "Number"]


def run_jobs(redis: object) -> int:
    """Drain every queue with a burst worker and fail the test on any failed job."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from contact_center.jobs import ALL_QUEUES
    from tests.conftest import drain_queues

    ran = drain_queues(redis)  # type: ignore[arg-type]
    for name in ALL_QUEUES:
        failed = FailedJobRegistry(queue=Queue(name, connection=redis))  # type: ignore[arg-type]
        assert failed.count == 0, [
            (job_id, failed.job_class.fetch(job_id, connection=redis).exc_info)  # type: ignore[arg-type]
            for job_id in failed.get_job_ids()
        ]
    return ran


def text_in(
    twilio: TwilioSimulator, from_number: str, to_number: str, body: str, sid: str | None = None
) -> tuple[int, str | None]:
    """A patient texts the practice: Twilio's signed webhook. Returns (HTTP status, reply)."""
    import xml.etree.ElementTree as ET

    from contact_center.simulator import new_sid

    form = {
        "MessageSid": sid or new_sid("SM"),
        "AccountSid": twilio.account_sid,
        "From": from_number,
        "To": to_number,
        "Body": body,
        "NumMedia": "0",
    }
    status, xml = twilio.post("/twilio/sms/incoming", form)
    if status != 200:
        return status, None
    root = ET.fromstring(xml)
    assert root.tag == "Response", xml
    messages = [m.text or "" for m in root.iter("Message")]
    assert len(messages) <= 1, xml
    return status, messages[0] if messages else None
