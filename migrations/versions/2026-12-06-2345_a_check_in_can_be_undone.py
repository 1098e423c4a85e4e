"""a check-in can be undone, with a reason kept among the scans; kiosk keys carry permissions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "checked_in",
    "already_checked_in",
    "unknown_badge",
    "event_not_open",
    "scan_time_refused",
)
AFTER = (*BEFORE, "checkin_undone")


def _outcomes(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_scans_outcome"), type_="check")
        batch_op.create_check_constraint(
            "outcome", f"outcome IN ({', '.join(repr(v) for v in values)})"
        )


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
    _outcomes(AFTER)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permissions", sa.JSON(), nullable=True))
    op.execute("UPDATE api_keys SET permissions = '[]'")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("permissions", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("permissions")
    op.execute(f"DELETE FROM scans WHERE outcome NOT IN ({', '.join(repr(v) for v in BEFORE)})")
    _outcomes(BEFORE)
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_column("reason")
