"""abuse guards: login sessions that can be ended, deactivated users; the lead form's fraud
rules per practice, refused leads, lead-rate surges

Revision ID: 0012
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_login_sessions_token_sha256")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "lead_guard_settings",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("allowed_countries", sa.String(length=200), nullable=False),
        sa.Column("per_key_limit", sa.String(length=100), nullable=False),
        sa.Column("per_address_limit", sa.String(length=100), nullable=False),
        sa.Column("per_destination_limit", sa.String(length=100), nullable=False),
        sa.Column("surge_min_leads", sa.Integer(), nullable=False),
        sa.Column("surge_factor", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_lead_guard_settings_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_lead_guard_settings")),
    )
    op.create_table(
        "refused_leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("client_address", sa.String(length=45), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_refused_leads_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refused_leads")),
    )
    with op.batch_alter_table("refused_leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refused_leads_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refused_leads_practice_id"), ["practice_id"], unique=False
        )
    op.create_table(
        "lead_surges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leads_last_hour", sa.Integer(), nullable=False),
        sa.Column("baseline_per_hour", sa.Double(), nullable=False),
        sa.Column("alert_message_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_message_id"],
            ["sms_messages.id"],
            name=op.f("fk_lead_surges_alert_message_id_sms_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_lead_surges_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_surges")),
    )
    with op.batch_alter_table("lead_surges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lead_surges_practice_id"), ["practice_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("lead_surges")
    op.drop_table("refused_leads")
    op.drop_table("lead_guard_settings")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))
    op.drop_table("login_sessions")
