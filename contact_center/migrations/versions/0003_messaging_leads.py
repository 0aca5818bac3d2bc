# ruff: noqa: E501
"""messaging, leads, callback dialer: conversations, messages, templates, PHI terms, leads,
API keys, idempotency keys, callback attempts, SLA breaches

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_api_keys_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
    )
    op.create_table(
        "dialer_settings",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("cadence", sa.String(length=120), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_dialer_settings_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_dialer_settings")),
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_idempotent_requests_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_requests")),
        sa.UniqueConstraint(
            "practice_id", "key", name=op.f("uq_idempotent_requests_practice_id_key")
        ),
    )
    op.create_table(
        "messaging_settings",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("acknowledgment", sa.Text(), nullable=True),
        sa.Column("after_hours_acknowledgment", sa.Text(), nullable=True),
        sa.Column("missed_call_text", sa.Text(), nullable=True),
        sa.Column("booking_link", sa.String(length=255), nullable=True),
        sa.Column("contact", sa.String(length=255), nullable=True),
        sa.Column("alert_manager_on_breach", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_messaging_settings_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_messaging_settings")),
    )
    op.create_table(
        "sms_phi_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_sms_phi_terms_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_phi_terms")),
        sa.UniqueConstraint("practice_id", "term", name=op.f("uq_sms_phi_terms_practice_id_term")),
    )
    op.create_table(
        "sms_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_sms_templates_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_templates")),
        sa.UniqueConstraint("practice_id", "name", name=op.f("uq_sms_templates_practice_id_name")),
    )
    op.create_table(
        "sms_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_reply", sa.Boolean(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_sms_conversations_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_sms_conversations_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_conversations")),
        sa.UniqueConstraint(
            "practice_id", "phone", name=op.f("uq_sms_conversations_practice_id_phone")
        ),
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("inbound", "outbound", name="messagedirection", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "patient",
                "keyword_reply",
                "acknowledgment",
                "missed_call",
                "coordinator",
                "reminder",
                "staff_alert",
                name="messagekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "pending",
                "sending",
                "replied",
                "queued",
                "sent",
                "delivered",
                "undelivered",
                "failed",
                "refused",
                name="messagestatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("message_sid", sa.String(length=34), nullable=True),
        sa.Column("dedupe_key", sa.String(length=80), nullable=True),
        sa.Column("unsolicited", sa.Boolean(), nullable=False),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("refused_reason", sa.Text(), nullable=True),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["sms_conversations.id"],
            name=op.f("fk_sms_messages_conversation_id_sms_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_sms_messages_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["users.id"],
            name=op.f("fk_sms_messages_sent_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_messages_dedupe_key")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_sms_messages_message_sid")),
    )
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled",
                "claimed",
                "ringing",
                "bridging",
                "done",
                "canceled",
                name="attemptstate",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=True),
        sa.Column("coordinator_id", sa.Integer(), nullable=True),
        sa.Column("coordinator_call_sid", sa.String(length=34), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dialed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("patient_dialed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "connected",
                "no_answer",
                "busy",
                "voicemail",
                "failed",
                "canceled",
                name="attemptoutcome",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["users.id"],
            name=op.f("fk_callback_attempts_coordinator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_callback_attempts_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["callback_tasks.id"],
            name=op.f("fk_callback_attempts_task_id_callback_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
        sa.UniqueConstraint(
            "coordinator_call_sid", name=op.f("uq_callback_attempts_coordinator_call_sid")
        ),
        sa.UniqueConstraint(
            "task_id", "attempt_no", name=op.f("uq_callback_attempts_task_id_attempt_no")
        ),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("callback_task_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("sms_consent", sa.Boolean(), nullable=False),
        sa.Column("consent_wording", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_task_id"],
            ["callback_tasks.id"],
            name=op.f("fk_leads_callback_task_id_callback_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_leads_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_leads_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_table(
        "sla_breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alert_message_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_message_id"],
            ["sms_messages.id"],
            name=op.f("fk_sla_breaches_alert_message_id_sms_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_sla_breaches_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["callback_tasks.id"],
            name=op.f("fk_sla_breaches_task_id_callback_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_breaches")),
        sa.UniqueConstraint("task_id", name=op.f("uq_sla_breaches_task_id")),
    )
    op.create_index(op.f("ix_api_keys_practice_id"), "api_keys", ["practice_id"], unique=False)
    op.create_index(
        op.f("ix_sms_messages_conversation_id"), "sms_messages", ["conversation_id"], unique=False
    )
    op.create_index(
        op.f("ix_sms_messages_practice_id"), "sms_messages", ["practice_id"], unique=False
    )
    op.create_index(op.f("ix_sms_messages_status"), "sms_messages", ["status"], unique=False)
    op.create_index(
        op.f("ix_callback_attempts_due_at"), "callback_attempts", ["due_at"], unique=False
    )
    op.create_index(
        op.f("ix_callback_attempts_practice_id"), "callback_attempts", ["practice_id"], unique=False
    )
    op.create_index(
        op.f("ix_callback_attempts_state"), "callback_attempts", ["state"], unique=False
    )
    op.create_index(
        op.f("ix_callback_attempts_task_id"), "callback_attempts", ["task_id"], unique=False
    )
    op.create_index(op.f("ix_leads_created_at"), "leads", ["created_at"], unique=False)
    op.create_index(op.f("ix_leads_practice_id"), "leads", ["practice_id"], unique=False)
    op.create_index(
        op.f("ix_sla_breaches_practice_id"), "sla_breaches", ["practice_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("sla_breaches")
    op.drop_table("leads")
    op.drop_table("callback_attempts")
    op.drop_table("idempotent_requests")
    op.drop_table("dialer_settings")
    op.drop_table("api_keys")
    op.drop_table("sms_messages")
    op.drop_table("sms_conversations")
    op.drop_table("sms_templates")
    op.drop_table("sms_phi_terms")
    op.drop_table("messaging_settings")
