"""a check-in keeps its participant: unregistering a checked-in party is refused, not cascaded

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_checkins_participant_id_participants"


def _participant_key(ondelete: str) -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(
            FK, "participants", ["participant_id"], ["id"], ondelete=ondelete
        )


def upgrade() -> None:
    _participant_key("RESTRICT")


def downgrade() -> None:
    _participant_key("CASCADE")
