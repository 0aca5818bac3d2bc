"""one outreach per patient: one open callback task per practice and number (reasons join it),
a daily cap on attempts, and the SLA sweep's checked mark

Revision ID: 0014
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('held', 'open', 'in_progress')"


def upgrade() -> None:
    op.create_table(
        "callback_task_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source_call_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["callback_tasks.id"],
            name=op.f("fk_callback_task_reasons_task_id_callback_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_call_id"],
            ["calls.id"],
            name=op.f("fk_callback_task_reasons_source_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_task_reasons")),
        sa.UniqueConstraint("source_call_id", name=op.f("uq_callback_task_reasons_source_call_id")),
    )
    with op.batch_alter_table("callback_task_reasons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_task_reasons_task_id"), ["task_id"], unique=False
        )
    with op.batch_alter_table("dialer_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("daily_cap", sa.Integer(), nullable=False, server_default="3")
        )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_checked_at", sa.DateTime(timezone=True), nullable=True))
    # Tasks already flagged are checked; the others are looked at once more by the next sweep.
    op.execute(
        "UPDATE callback_tasks SET sla_checked_at = (SELECT detected_at FROM sla_breaches"
        " WHERE sla_breaches.task_id = callback_tasks.id)"
        " WHERE id IN (SELECT task_id FROM sla_breaches)"
    )
    # Before the unique index: a number with several open tasks keeps its oldest one.
    op.execute(
        "UPDATE callback_attempts SET state = 'canceled', outcome = 'canceled',"
        " note = 'merged into the older open callback' WHERE state = 'scheduled' AND task_id IN"
        " (SELECT t.id FROM callback_tasks t WHERE t.status IN ('held', 'open', 'in_progress')"
        " AND EXISTS (SELECT 1 FROM callback_tasks o WHERE o.practice_id = t.practice_id"
        " AND o.phone = t.phone AND o.status IN ('held', 'open', 'in_progress') AND o.id < t.id))"
    )
    op.execute(
        "UPDATE callback_tasks SET status = 'canceled', closed_at = CURRENT_TIMESTAMP"
        " WHERE status IN ('held', 'open', 'in_progress') AND EXISTS (SELECT 1 FROM"
        " callback_tasks o WHERE o.practice_id = callback_tasks.practice_id"
        " AND o.phone = callback_tasks.phone AND o.status IN ('held', 'open', 'in_progress')"
        " AND o.id < callback_tasks.id)"
    )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_index(
            "uq_callback_tasks_open_per_number",
            ["practice_id", "phone"],
            unique=True,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
        batch_op.create_index(
            "ix_callback_tasks_sla_unchecked",
            ["sla_deadline"],
            unique=False,
            postgresql_where=sa.text("sla_checked_at IS NULL"),
            sqlite_where=sa.text("sla_checked_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_tasks_sla_unchecked")
        batch_op.drop_index("uq_callback_tasks_open_per_number")
        batch_op.drop_column("sla_checked_at")
    with op.batch_alter_table("dialer_settings", schema=None) as batch_op:
        batch_op.drop_column("daily_cap")
    with op.batch_alter_table("callback_task_reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_task_reasons_task_id"))
    op.drop_table("callback_task_reasons")
