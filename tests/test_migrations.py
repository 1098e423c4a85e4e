"""The schema comes from the migrations: they agree with the models and round-trip."""

import tempfile
import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service import schema
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
async def scratch_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A throw-away database of the same kind as the test database."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = f"{tempfile.mkdtemp(prefix='smk-roundtrip-')}/roundtrip.db"
        engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
        yield engine
        await engine.dispose()
        return
    name = f"roundtrip_{uuid.uuid4().hex[:12]}"
    admin = create_engine(settings, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(
        Settings(database_url=url.set(database=name).render_as_string(hide_password=False))
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}"'))
        await admin.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_downgrade_to_base_and_upgrade_to_head_round_trip(
    scratch_engine: AsyncEngine,
) -> None:
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema.upgrade)
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        assert await connection.run_sync(schema.is_at_head)
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema.downgrade)
        assert await connection.run_sync(_tables) == set()
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema.upgrade)
        assert await connection.run_sync(_diff) == []
        assert await connection.run_sync(schema.is_at_head)
