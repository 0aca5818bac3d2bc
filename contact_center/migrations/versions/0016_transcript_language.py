"""transcripts: the model that made them; turns: the language of the speaker's channel

Revision ID: 0016
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcripts") as batch:
        batch.add_column(sa.Column("model", sa.String(200), nullable=True))
    with op.batch_alter_table("transcript_turns") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_turns") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("model")
