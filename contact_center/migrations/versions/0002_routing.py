"""Routing: wrap-up end on presence, presence history, practice queues.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PRESENCE_STATE = sa.Enum(
    "offline",
    "available",
    "reserved",
    "on_call",
    "wrap_up",
    "away",
    name="presencestate",
    native_enum=False,
    length=32,
)
_QUEUE_STATUS = sa.Enum(
    "waiting",
    "assigned",
    "answered",
    "callback",
    "callback_due",
    "voicemail",
    "abandoned",
    name="queuestatus",
    native_enum=False,
    length=32,
)


def upgrade() -> None:
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wrap_up_until", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "presence_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", _PRESENCE_STATE, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_presence_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_changes")),
    )
    with op.batch_alter_table("presence_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_presence_changes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "queue_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=False),
        sa.Column("skill", sa.String(length=32), nullable=True),
        sa.Column("status", _QUEUE_STATUS, nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_user_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redirected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("overflow_offers", sa.Integer(), nullable=False),
        sa.Column("callback_task_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"],
            ["users.id"],
            name=op.f("fk_queue_entries_assigned_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_queue_entries_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["callback_task_id"],
            ["callback_tasks.id"],
            name=op.f("fk_queue_entries_callback_task_id_callback_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_queue_entries_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_entries")),
        sa.UniqueConstraint("call_id", name=op.f("uq_queue_entries_call_id")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_queue_entries_call_sid")),
    )
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_entries_line", ["practice_id", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_entries_line")
    op.drop_table("queue_entries")
    with op.batch_alter_table("presence_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presence_changes_user_id"))
    op.drop_table("presence_changes")
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.drop_column("wrap_up_until")
