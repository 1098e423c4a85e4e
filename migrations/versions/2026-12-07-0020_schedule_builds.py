"""schedule builds as jobs; on PostgreSQL, procrastinate's queue in its own schema

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "schedule_builds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("fairness", sa.Integer(), nullable=True),
        sa.Column("time_limit_seconds", sa.Float(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("schedule_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_schedule_builds_state"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_schedule_builds_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_builds_schedule_id_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_builds")),
    )
    op.create_index(
        op.f("ix_schedule_builds_event_id"), "schedule_builds", ["event_id"], unique=False
    )
    op.create_index(
        "uq_schedule_builds_active_event",
        "schedule_builds",
        ["event_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    if op.get_bind().dialect.name == "postgresql":
        _create_queue()


def _create_queue() -> None:
    # procrastinate's tables, types and functions, as its release ships them, in a schema of
    # their own: the service's schema stays the models' alone. Its connections (service/jobs)
    # put the schema first on their search_path. A procrastinate upgrade that changes its
    # schema comes with a migration here applying its files from procrastinate/sql/migrations.
    from procrastinate.schema import SchemaManager

    bind = op.get_bind()
    op.execute("DROP SCHEMA IF EXISTS procrastinate CASCADE")
    op.execute("CREATE SCHEMA procrastinate")
    op.execute("SET LOCAL search_path TO procrastinate, public")
    schema = SchemaManager.get_schema()
    if bind.dialect.driver == "asyncpg":
        # Many statements and function bodies in one string: asyncpg's simple-query execute.
        raw = bind.connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
        await_only(raw.execute(schema))
    else:
        bind.exec_driver_sql(schema)
    op.execute("SET LOCAL search_path TO public")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SCHEMA IF EXISTS procrastinate CASCADE")
    op.drop_index(
        "uq_schedule_builds_active_event",
        table_name="schedule_builds",
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.drop_index(op.f("ix_schedule_builds_event_id"), table_name="schedule_builds")
    op.drop_table("schedule_builds")
