"""agreements need both sides: an intent keeps which side proposed it; a memorandum is
"proposed" until each signatory has signed, and each signature and request to terminate is kept

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('signed', 'active', 'expired', 'terminated')"
NEW_STATES = "state IN ('proposed', 'signed', 'active', 'expired', 'terminated')"


def upgrade() -> None:
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposed_by", sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_intents_proposed_by"),
            "proposed_by IS NULL OR proposed_by IN ('committee', 'organization')",
        )
    with op.batch_alter_table("memoranda", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_memoranda_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_memoranda_state"), NEW_STATES)
    op.create_table(
        "memorandum_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("signatory_id", sa.Uuid(), nullable=False),
        sa.Column("act", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("act IN ('sign', 'terminate')", name=op.f("ck_memorandum_consents_act")),
        sa.ForeignKeyConstraint(
            ["actor_key_id"],
            ["api_keys.id"],
            name=op.f("fk_memorandum_consents_actor_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["signatory_id"],
            ["memorandum_signatories.id"],
            name=op.f("fk_memorandum_consents_signatory_id_memorandum_signatories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memorandum_consents")),
        sa.UniqueConstraint(
            "signatory_id", "act", name=op.f("uq_memorandum_consents_signatory_id_act")
        ),
    )


def downgrade() -> None:
    op.drop_table("memorandum_consents")
    op.execute("UPDATE memoranda SET state = 'signed' WHERE state = 'proposed'")
    with op.batch_alter_table("memoranda", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_memoranda_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_memoranda_state"), OLD_STATES)
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_intents_proposed_by"), type_="check")
        batch_op.drop_column("proposed_by")
