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


def downgrade() -> None:
    op.drop_index("ix_sms_messages_conversation_class", table_name="sms_messages")
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("message_class")
