"""table hosts: an API key role that marks the meetings of its event held or no-show

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 00:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("admin", "partner", "kiosk")
AFTER = (*BEFORE, "table_host")


def _roles(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_keys_role"), type_="check")
        batch_op.create_check_constraint("role", f"role IN ({', '.join(repr(v) for v in values)})")


def upgrade() -> None:
    _roles(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM api_keys WHERE role = 'table_host'")
    _roles(BEFORE)
