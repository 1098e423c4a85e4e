"""a nonce belongs to one kiosk: scans are unique per API key and nonce, and keep their outcome
only (the answer is rendered again for a replay, never stored)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_constraint("uq_scans_event_id_nonce", type_="unique")
        batch_op.create_unique_constraint("uq_scans_kiosk_key_id_nonce", ["kiosk_key_id", "nonce"])
        batch_op.drop_column("response_status")
        batch_op.drop_column("response_body")


def downgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("response_body", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("response_status", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_constraint("uq_scans_kiosk_key_id_nonce", type_="unique")
        batch_op.create_unique_constraint("uq_scans_event_id_nonce", ["event_id", "nonce"])
