"""reminders: message classes for the healthcare texting rules, appointment reminders

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | tuple[str, ...] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(
            sa.Column("message_class", sa.String(32), nullable=False, server_default="conversation")
        )
    # Reminders sent before this revision were care texts.
    op.execute("UPDATE sms_messages SET message_class = 'care' WHERE kind = 'reminder'")
    op.execute("UPDATE sms_messages SET message_class = 'internal' WHERE kind = 'staff_alert'")
    op.create_index(
        "ix_sms_messages_conversation_class",
        "sms_messages",
        ["conversation_id", "message_class"],
    )

    op.create_table(
        "appointment_reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "practice_id",
            sa.Integer(),
            sa.ForeignKey(
                "practices.id",
                ondelete="CASCADE",
                name="fk_appointment_reminders_practice_id_practices",
            ),
            nullable=False,
        ),
        sa.Column(
            "appointment_id",
            sa.Integer(),
            sa.ForeignKey(
                "appointments.id",
                ondelete="CASCADE",
                name="fk_appointment_reminders_appointment_id_appointments",
            ),
            nullable=False,
        ),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("for_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nominal_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey(
                "sms_messages.id",
                ondelete="SET NULL",
                name="fk_appointment_reminders_message_id_sms_messages",
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint(
            "appointment_id",
            "step",
            "for_start",
            name="uq_appointment_reminders_appointment_id_step_for_start",
        ),
    )
    op.create_index(
        "ix_appointment_reminders_appointment_id", "appointment_reminders", ["appointment_id"]
    )
    op.create_index(
        "ix_appointment_reminders_state_due", "appointment_reminders", ["state", "due_at"]
    )
    op.create_table(
        "reminder_settings",
        sa.Column(
            "practice_id",
            sa.Integer(),
            sa.ForeignKey(
                "practices.id",
                ondelete="CASCADE",
                name="fk_reminder_settings_practice_id_practices",
            ),
            primary_key=True,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("first_hours_before", sa.Integer(), nullable=True),
        sa.Column("second_hours_before", sa.Integer(), nullable=True),
        sa.Column("second_only_unconfirmed", sa.Boolean(), nullable=False),
        sa.Column("morning_of", sa.Boolean(), nullable=False),
        sa.Column("morning_hour", sa.Integer(), nullable=False),
        sa.Column("link_hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reminder_settings")
    op.drop_table("appointment_reminders")
    op.drop_index("ix_sms_messages_conversation_class", table_name="sms_messages")
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("message_class")
