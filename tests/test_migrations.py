"""The schema comes from the migrations: they agree with the models and round-trip."""

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service import schema_migrations
from service.config import Settings
from service.db import Base, create_engine


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == [], f"models differ from migrations; write a migration: {diff}"


@pytest.fixture
async def scratch_engine(scratch_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(database_url=scratch_url))
    yield engine
    await engine.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_downgrade_to_base_and_upgrade_to_head_round_trip(
    scratch_engine: AsyncEngine,
) -> None:
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema_migrations.upgrade)
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        assert await connection.run_sync(schema_migrations.is_at_head)
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema_migrations.downgrade)
        assert await connection.run_sync(_tables) == set()
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema_migrations.upgrade)
        assert await connection.run_sync(_diff) == []
        assert await connection.run_sync(schema_migrations.is_at_head)
