"""Web-form leads: lead records, per-practice API keys, form validation, Idempotency-Key storage.

The intake itself (patient, callback task, consent, acknowledgment) is routing's speed-to-lead
hand-off: ``routing.leads`` and ``routing.lead_views``.
"""
