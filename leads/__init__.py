"""Web-form leads: per-practice API keys, idempotent intake, speed-to-lead hand-off."""
