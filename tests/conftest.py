"""Test fixtures: a migrated database per run, a rolled-back transaction per test.

TEST_DATABASE_URL chooses the database (PostgreSQL in CI's second run); the default is a fresh
SQLite file. The schema comes from the Alembic migrations, never from create_all.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from xdist.scheduler import LoadScopeScheduling

from service import schema_migrations
from service.app import create_app
from service.config import Settings
from service.db import Base, create_engine, create_sessionmaker
from service.demo.load import load_demo
from service.directory.service import sync_taxonomy
from service.jobs import queue
from service.models.columns import utcnow
from tests.support import (
    SUITE_CHECKIN_GRACE_HOURS,
    Headers,
    KeyFactory,
    StatementLog,
    Workers,
    delete_rows_since,
    key_in,
    new_postgres_database,
    read_demo_event,
)

# CI must give the same verdict on the same commit: there, property tests draw a fixed sequence
# of examples; on a developer's machine they explore new ones every run.
if os.environ.get("CI"):
    hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
    hypothesis.settings.load_profile("ci")


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The run's own database: a fresh SQLite file, or a fresh PostgreSQL database created
    through TEST_DATABASE_URL and dropped afterwards, so concurrent runs never meet."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/test.db"
        return
    async with new_postgres_database(base, f"{make_url(base).database or 'test'}_run") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, checkin_grace_hours=SUITE_CHECKIN_GRACE_HOURS)


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


# What the shared app is bound to between tests: nothing a test may use.
_NOT_YET_BOUND = object()


@pytest.fixture(scope="session")
def bound_app(settings: Settings) -> FastAPI:
    """One app for the worker's tests, started on each test's connection in turn: FastAPI
    builds an app's routes (their dependencies and models) on their first requests, and an
    app made for every test paid that again, about 70 ms a test. A test that adds a route
    makes an app of its own."""
    return create_app(settings, bind=_NOT_YET_BOUND)


@pytest.fixture
async def app(bound_app: FastAPI, connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    routes = list(bound_app.routes)
    bound_app.state.bind = connection
    try:
        async with bound_app.router.lifespan_context(bound_app):
            yield bound_app
    finally:
        bound_app.state.bind = _NOT_YET_BOUND
    assert bound_app.routes == routes, "a test changed the shared app's routes"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def make_key(session_factory: Any) -> KeyFactory:
    """Create an API key in the test's transaction and return its Authorization header."""

    async def make(role: str = "admin", **binding: Any) -> Headers:
        return await key_in(session_factory, role, **binding)

    return make


@pytest.fixture
async def admin(make_key: KeyFactory) -> Headers:
    return await make_key("admin")


@pytest.fixture
async def demo_event(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    """The demo's Wenzhou event, as the API shows it."""
    return await read_demo_event(client, admin)


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
        return await key_in(committed_app.state.sessionmaker, role, **binding)

    return make


@pytest.fixture
async def scratch_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as the test database, dropped afterwards."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/scratch.db"
        return
    async with new_postgres_database(settings.database_url, "scratch") as scratch:
        yield scratch


@pytest.fixture
def statements(engine: AsyncEngine) -> StatementLog:
    """Counts the statements of the test database's engine: `with statements.counting(): ...`."""
    return StatementLog(engine)


@pytest.fixture
async def build_worker(settings: Settings, committed_app: FastAPI) -> AsyncIterator[None]:
    """On PostgreSQL, a queue worker (as `python -m service worker` runs it) in this process for
    the test; on SQLite the app's own pool runs builds and nothing more is needed."""
    if not queue.uses_queue(settings):
        yield
        return
    task = asyncio.create_task(queue.serve(settings, install_signal_handlers=False))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# Tests that share an expensive set-up run on one xdist worker, which makes it once a run: the
# browser's server with its published schedule, the faults' throw-away cluster, the several
# workers' server (4 processes and 2 build workers). By path, not by pytest-xdist's xdist_group
# mark, which pytest 9.2's node ids silently ignore (pytest-dev/pytest-xdist#1386).
ONE_WORKER = {
    "tests/browser/": "browser",
    "tests/test_faults.py": "faults",
    "tests/test_workers.py": "several_workers",
}


def unit_of_work(nodeid: str) -> str:
    """The test's group in ONE_WORKER, or the test itself."""
    return next((g for prefix, g in ONE_WORKER.items() if nodeid.startswith(prefix)), nodeid)


class SharedSetUpOnOneWorker(LoadScopeScheduling):
    """xdist's `load`, except that each group of ONE_WORKER goes to one worker as a whole (the
    largest first: xdist orders its units by size)."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of_work(nodeid)


@pytest.hookimpl(optionalhook=True)  # xdist's hook: the suite also runs without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    if config.getoption("dist") != "load":  # another distribution asked for by name
        return None
    return SharedSetUpOnOneWorker(config, log)


# Tests that touch no database (the solver's, the scoring's) give the same verdict on either:
# the PostgreSQL pass (TEST_DATABASE_URL set) leaves them to the SQLite pass and says so.
DATABASE_FIXTURES = frozenset({"database_url", "scratch_url"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collected = len(items)
    if os.environ.get("TEST_DATABASE_URL"):
        database_free = [
            item for item in items if not DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        ]
        if database_free:
            config.hook.pytest_deselected(items=database_free)
            kept = set(map(id, items)) - set(map(id, database_free))
            items[:] = [item for item in items if id(item) in kept]
    config.stash[_COUNTS] = (collected, len(items))


_COUNTS = pytest.StashKey[tuple[int, int]]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker hands its counts to the controller, which prints them.
    counts = session.config.stash.get(_COUNTS, None)
    if counts is not None and hasattr(session.config, "workeroutput"):
        session.config.workeroutput["test_counts"] = counts


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    counts = getattr(node, "workeroutput", {}).get("test_counts")
    if counts is not None:
        node.config.stash[_COUNTS] = tuple(counts)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    counts = config.stash.get(_COUNTS, None)
    if counts is None or hasattr(config, "workerinput"):
        return
    collected, selected = counts
    terminalreporter.write_line(
        f"test cases: {collected} collected, {selected} run on this database"
        + (
            f", {collected - selected} database-free ones left to the SQLite pass"
            if collected != selected
            else ""
        )
    )
