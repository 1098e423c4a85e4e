"""a scan time can be refused: in the future beyond the clock skew, or outside the event's day

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("checked_in", "already_checked_in", "unknown_badge", "event_not_open")
AFTER = (*BEFORE, "scan_time_refused")


def _outcomes(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_scans_outcome"), type_="check")
        batch_op.create_check_constraint(
            "outcome", f"outcome IN ({', '.join(repr(v) for v in values)})"
        )


def upgrade() -> None:
    _outcomes(AFTER)


def downgrade() -> None:
    op.execute(f"DELETE FROM scans WHERE outcome NOT IN ({', '.join(repr(v) for v in BEFORE)})")
    _outcomes(BEFORE)
