"""rate limits leave the database (Redis or process memory); a change to an API key is notified
on PostgreSQL, so every process forgets the keys it knew

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# service/auth/known_keys.py listens on this channel.
NOTIFY_FUNCTION = """
CREATE FUNCTION api_keys_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_keys_changed', OLD.id::text);
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
FOR EACH ROW EXECUTE FUNCTION api_keys_notify_changed()
"""


def upgrade() -> None:
    op.drop_table("rate_limit_windows")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER api_keys_changed ON api_keys")
        op.execute("DROP FUNCTION api_keys_notify_changed()")
    op.create_table(
        "rate_limit_windows",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_rate_limit_windows_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "window_start", name=op.f("pk_rate_limit_windows")),
    )
