"""Test fixtures: a migrated database per run, a rolled-back transaction per test.

TEST_DATABASE_URL chooses the database (PostgreSQL in CI's second run); the default is a fresh
SQLite file. The schema comes from the Alembic migrations, never from create_all.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from service import schema_migrations
from service.app import create_app
from service.auth.service import create_api_key
from service.config import Settings
from service.db import Base, create_engine, create_sessionmaker
from service.demo.load import load_demo
from service.directory.service import sync_taxonomy
from service.models.columns import utcnow

# CI must give the same verdict on the same commit: there, property tests draw a fixed sequence
# of examples; on a developer's machine they explore new ones every run.
if os.environ.get("CI"):
    hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
    hypothesis.settings.load_profile("ci")

Headers = dict[str, str]
KeyFactory = Callable[..., Awaitable[Headers]]
Workers = tuple[httpx.AsyncClient, httpx.AsyncClient]


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The run's own database: a fresh SQLite file, or a fresh PostgreSQL database created
    through TEST_DATABASE_URL and dropped afterwards, so concurrent runs never meet."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/test.db"
        return
    url = make_url(base)
    name = f"{url.database or 'test'}_run_{uuid.uuid4().hex[:10]}"
    admin = create_engine(Settings(database_url=base), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture(scope="session")
def is_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith("postgresql")


async def reset_database(engine: AsyncEngine) -> None:
    """Leave an empty database: a crashed earlier run must not decide this one."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        else:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    await reset_database(engine)
    async with engine.begin() as connection:
        await connection.run_sync(schema_migrations.upgrade)
    async with create_sessionmaker(engine).begin() as session:
        await sync_taxonomy(session)
        await load_demo(session)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def session_factory(connection: AsyncConnection) -> Callable[[], AsyncSession]:
    maker = create_sessionmaker(connection, join_transaction_mode="create_savepoint")
    return maker


@pytest.fixture
async def session(session_factory: Callable[[], AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest.fixture
async def app(settings: Settings, connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    app = create_app(settings, bind=connection)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def make_key_in(maker: Any, role: str = "admin", **binding: Any) -> Headers:
    binding = {k: uuid.UUID(str(v)) for k, v in binding.items()}
    async with maker.begin() as session:
        _, secret = await create_api_key(session, name=f"test {role}", role=role, **binding)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def make_key(session_factory: Any) -> KeyFactory:
    """Create an API key in the test's transaction and return its Authorization header."""

    async def make(role: str = "admin", **binding: Any) -> Headers:
        return await make_key_in(session_factory, role, **binding)

    return make


@pytest.fixture
async def admin(make_key: KeyFactory) -> Headers:
    return await make_key("admin")


@pytest.fixture
async def committed_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """An app on the real engine whose transactions commit, for concurrency tests.

    What the test wrote (rows created since it began) is deleted afterwards.
    """
    started: datetime = utcnow()
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        yield app
    await delete_rows_since(engine, started)


async def delete_rows_since(engine: AsyncEngine, started: datetime) -> None:
    """Delete what a test that committed wrote: rows created since it began."""
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if "created_at" in table.c:
                await connection.execute(delete(table).where(table.c.created_at >= started))
            elif table.name == "idempotency_records":
                await connection.execute(delete(table))


@pytest.fixture
async def committed_client(committed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def two_workers(settings: Settings, committed_app: FastAPI) -> AsyncIterator[Workers]:
    """Two clients on two apps over one committed database, as two worker processes see it."""
    other = create_app(settings, engine=committed_app.state.engine)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=committed_app), base_url="http://a"
        ) as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://b") as b,
    ):
        yield a, b


@pytest.fixture
def committed_key(committed_app: FastAPI) -> KeyFactory:
    async def make(role: str = "admin", **binding: Any) -> Headers:
        return await make_key_in(committed_app.state.sessionmaker, role, **binding)

    return make


@pytest.fixture
async def scratch_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as the test database, dropped afterwards."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/scratch.db"
        return
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(settings, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def random_id() -> str:
    return str(uuid.uuid4())


class StatementLog:
    """The SQL statements an engine executed while `counting` was open."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def counting(self) -> "StatementLog":
        self.statements = []
        return self

    def __enter__(self) -> "StatementLog":
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._note)


@pytest.fixture
def statements(engine: AsyncEngine) -> StatementLog:
    """Counts the statements of the test database's engine: `with statements.counting(): ...`."""
    return StatementLog(engine)
