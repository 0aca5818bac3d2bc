"""merge the hardening, compliance, appointments, reminders, Whisper and journeys branches

Revision ID: 0040
Revises: 0010, 0012, 0013, 0014, 0016, 0021, 0031
Create Date: 2026-11-24
"""

from collections.abc import Sequence

revision: str = "0040"
down_revision: str | tuple[str, ...] | None = (
    "0010",
    "0012",
    "0013",
    "0014",
    "0016",
    "0021",
    "0031",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
