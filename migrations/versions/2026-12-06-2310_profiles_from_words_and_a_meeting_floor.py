"""profiles from words and a meeting floor: business scope, inferred domain links, domain
descriptions, and each event's minimum score for meetings the scheduler adds on its own

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINKS = ("committee_domains", "organization_domains")


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("business_scope", sa.Text(), server_default="", nullable=False)
        )
    for table in LINKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("inferred", sa.Boolean(), server_default="0", nullable=False)
            )
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("description_zh", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("description_en", sa.Text(), server_default="", nullable=False)
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("min_meeting_score", sa.Float(), server_default="30.0", nullable=False)
        )
        batch_op.create_check_constraint(
            "min_meeting_score", "min_meeting_score >= 0 AND min_meeting_score <= 100"
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("min_meeting_score", type_="check")
        batch_op.drop_column("min_meeting_score")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_column("description_en")
        batch_op.drop_column("description_zh")
    for table in LINKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("inferred")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("business_scope")
