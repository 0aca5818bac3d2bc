"""The baseline for bench/voice_webhook.py: a bare Flask endpoint returning constant TwiML."""

from flask import Flask, Response

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://x/consent" '
    'input="dtmf speech" numDigits="1"><Say>Thank you for calling.</Say></Gather></Response>'
)

app = Flask(__name__)


@app.post("/twilio/voice/incoming")
def incoming() -> Response:
    return Response(TWIML, mimetype="text/xml")
