"""The schema comes from the migrations: they agree with the models and round-trip."""

import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Uuid, bindparam, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service import schema_migrations
from service.badges import looks_like_badge_code
from service.config import Settings
from service.db import Base, create_engine, create_sessionmaker
from service.demo.load import load_demo
from service.directory.service import sync_taxonomy
from service.models.columns import UTCDateTime, utcnow


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


async def test_people_get_badges_and_check_ins_their_person_on_existing_data(
    scratch_engine: AsyncEngine,
) -> None:
    """0014 on a database with parties, people and check-ins: the party's badge becomes its
    first person's, everyone else gets a code of their own, a check-in is the first person's."""
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema_migrations.upgrade)
    async with create_sessionmaker(scratch_engine).begin() as session:
        await sync_taxonomy(session)
        await load_demo(session)
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema_migrations.downgrade, "0013")
        party = (
            await connection.execute(
                text(
                    "SELECT p.id, p.event_id, p.badge_code FROM participants p "
                    "WHERE (SELECT count(*) FROM people WHERE participant_id = p.id) >= 2 "
                    "ORDER BY p.badge_code LIMIT 1"
                )
            )
        ).one()
        await connection.execute(
            text(
                "INSERT INTO checkins (id, event_id, participant_id, checked_in_at, created_at) "
                "VALUES (:id, :event, :party, :at, :at)"
            ).bindparams(bindparam("id", type_=Uuid), bindparam("at", type_=UTCDateTime)),
            {"id": uuid.uuid4(), "event": party.event_id, "party": party.id, "at": utcnow()},
        )
    async with scratch_engine.begin() as connection:
        await connection.run_sync(schema_migrations.upgrade)
        people = (
            await connection.execute(
                text(
                    "SELECT id, badge_code FROM people WHERE participant_id = :party "
                    "ORDER BY position"
                ),
                {"party": party.id},
            )
        ).all()
        codes = (await connection.execute(text("SELECT badge_code FROM people"))).scalars().all()
        checked_in = (
            (
                await connection.execute(
                    text("SELECT person_id FROM checkins WHERE participant_id = :party"),
                    {"party": party.id},
                )
            )
            .scalars()
            .all()
        )
    assert people[0].badge_code == party.badge_code
    assert all(looks_like_badge_code(p.badge_code) for p in people)
    assert len(codes) == 88 and len(set(codes)) == 88
    assert [uuid.UUID(str(c)) for c in checked_in] == [uuid.UUID(str(people[0].id))]
