"""pending deletions of recordings at Twilio (no consent, or stored here), reconciled

Revision ID: 0010
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_twilio_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("recording_sid", sa.String(length=34), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_recording_twilio_deletions_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_twilio_deletions")),
        sa.UniqueConstraint(
            "recording_sid", name=op.f("uq_recording_twilio_deletions_recording_sid")
        ),
    )
    with op.batch_alter_table("recording_twilio_deletions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recording_twilio_deletions_practice_id"), ["practice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recording_twilio_deletions_deleted_at"), ["deleted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_twilio_deletions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_twilio_deletions_deleted_at"))
        batch_op.drop_index(batch_op.f("ix_recording_twilio_deletions_practice_id"))
    op.drop_table("recording_twilio_deletions")
