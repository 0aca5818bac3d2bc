"""possible opt-out: a conversation waiting for a person to decide whether the patient opted out

Revision ID: 0013
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_conversations") as batch:
        batch.add_column(sa.Column("opt_out_review_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_conversations") as batch:
        batch.drop_column("opt_out_review_at")
