"""A stand-in for Twilio's side of calls, for tests and the sandbox (no Twilio account).

``TwilioSimulator`` signs webhooks, follows the TwiML the product answers, keeps Twilio's
queues and plays the outbound calls the product asks for; a ``Caller`` scripts the person on
the line and a ``SimulatedCall`` records what happened.
"""

from contact_center.simulator.player import STATUS_CALLBACK_PATH, TwilioSimulator
from contact_center.simulator.script import (
    SILENCE,
    Answer,
    Caller,
    DialPlan,
    QueueState,
    Request,
    SimulatedCall,
    new_sid,
)
from contact_center.simulator.twiml import Transport, TwimlPlayer

__all__ = [
    "SILENCE",
    "STATUS_CALLBACK_PATH",
    "Answer",
    "Caller",
    "DialPlan",
    "QueueState",
    "Request",
    "SimulatedCall",
    "Transport",
    "TwilioSimulator",
    "TwimlPlayer",
    "new_sid",
]
