"""Declarative base, engine, one transaction per request."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Annotated, Any, ClassVar

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, Request
from sqlalchemy import ClauseElement, MetaData, event
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.compiler import SQLCompiler

from service.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """An engine for the configured database with the per-dialect settings we rely on."""
    url = settings.database_url
    # A failed statement's parameters stay out of its error, and so out of the logs: they may
    # hold a key's hash or a person's phone number and email.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args = {
        "server_settings": {"statement_timeout": str(settings.statement_timeout_ms)},
        "timeout": settings.pool_timeout_s,
    }
    # No pre-ping: it costs a round trip on every checkout. After a restart of the database
    # the first statement on a stale connection fails (503, retryable) and SQLAlchemy then
    # replaces every pooled connection at once.
    return create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout_s,
        **kwargs,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    # SQLite otherwise ignores foreign keys, and a deferred transaction that later wants to
    # write fails at once under concurrency instead of waiting: begin every one IMMEDIATE.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(bind: Any, **kwargs: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit, so responses can be built."""
    return async_sessionmaker(bind, expire_on_commit=False, **kwargs)


def statement_connections(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Callable[[], AbstractAsyncContextManager[AsyncConnection]]:
    """Connections without a session, for work whose statements each stand alone (reading an
    API key, reading one profile) or that keeps its own transaction (the door's, through
    `driver_transaction`).

    On PostgreSQL they run in autocommit: that saves the BEGIN and COMMIT round trips and the
    session's own work (about 0.25 ms of CPU a request). On SQLite, and on a test's connection,
    they are the connection of an ordinary session's transaction.
    """
    bind = sessionmaker.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return bind.execution_options(isolation_level="AUTOCOMMIT").connect
    return partial(_in_a_session, sessionmaker)


class DriverRecord(asyncpg.Record):  # type: ignore[misc]
    """asyncpg's record, its columns also read as attributes (`row.state`), as SQLAlchemy's."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class DriverStatement:
    """A statement for PostgreSQL sent to the driver (asyncpg) itself, not through
    SQLAlchemy's execution (its cursor, result and parameter work cost about 0.17 ms of CPU a
    statement, measured on the door's). Compiled once, to asyncpg's `$n` parameters; rows come
    back as `DriverRecord`s, as asyncpg decodes them (no SQLAlchemy type's result processing:
    keep to columns whose Python values are the driver's, such as UTC timestamps)."""

    # The SQL of every such statement, so that `hear_statements` can hear these at the driver
    # without hearing SQLAlchemy's twice.
    sent: ClassVar[set[str]] = set()

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        assert isinstance(compiled, SQLCompiler)
        # Parameters rendered at execution (an expanding IN) would need SQLAlchemy's execution.
        assert not compiled.post_compile_params and not compiled.literal_execute_params
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        DriverStatement.sent.add(self.sql)

    def _arguments(self, parameters: dict[str, Any]) -> list[Any]:
        return [parameters[name] for name in self.names]

    async def fetchrow(self, driver: Any, parameters: dict[str, Any]) -> Any:
        """The statement's first row, or None; `driver` as `on_driver` gives it."""
        return await driver.fetchrow(
            self.sql, *self._arguments(parameters), record_class=DriverRecord
        )

    async def fetch(self, driver: Any, parameters: dict[str, Any]) -> list[Any]:
        """The statement's rows."""
        rows: list[Any] = await driver.fetch(
            self.sql, *self._arguments(parameters), record_class=DriverRecord
        )
        return rows


def hear_statements(engine: AsyncEngine, note: Callable[[str], None]) -> Callable[[], None]:
    """Call `note` with the SQL of each statement the engine runs: those SQLAlchemy executes,
    and on PostgreSQL the `DriverStatement`s, which its events never see (heard through an
    asyncpg query logger on each connection checked out from then on, delivered on the event
    loop's next turn). Returns what stops it. For counting statements in tests and benches."""
    sync = engine.sync_engine

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        note(statement)

    def logged(query: Any) -> None:
        if query.query in DriverStatement.sent:  # SQLAlchemy's own are heard above
            note(query.query)

    def hear(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(logged)

    def stop_hearing(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:  # None for a connection invalidated on its way back
            dbapi_connection.driver_connection.remove_query_logger(logged)

    listeners: list[tuple[str, Callable[..., None]]] = [("before_cursor_execute", executed)]
    if engine.dialect.name == "postgresql":
        listeners += [("checkout", hear), ("checkin", stop_hearing)]
    for name, listener in listeners:
        event.listen(sync, name, listener)

    def stop() -> None:
        for name, listener in listeners:
            event.remove(sync, name, listener)

    return stop


@asynccontextmanager
async def on_driver(connection: AsyncConnection) -> AsyncIterator[Any]:
    """asyncpg's connection under a SQLAlchemy one, in whatever transaction that one is.

    SQLAlchemy's disconnect handling sees only the statements it executes itself, so this does
    its part for the driver's: a connection the server has closed (the database restarted) is
    replaced before use (SQLAlchemy would replace every pooled one at the first error instead),
    and one that closes under a statement is invalidated, never to go back to the pool.
    """
    driver: Any = (await connection.get_raw_connection()).driver_connection
    # Each closed one is discarded; the next may be another from the pool, or a new one.
    while driver.is_closed():
        await connection.invalidate()
        driver = (await connection.get_raw_connection()).driver_connection
    try:
        yield driver
    except Exception as exc:
        if driver.is_closed():
            await connection.invalidate(exc)
        raise


@asynccontextmanager
async def driver_transaction(
    connections: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
) -> AsyncIterator[Any]:
    """asyncpg's connection of a pooled connection from `connections` (the app's
    `statement_connections`), in a transaction of the driver's own, committed when the block
    ends and rolled back if it raises; for `DriverStatement`s. On a test's connection, already
    in a transaction, the driver's is a savepoint."""
    async with (
        connections() as connection,
        on_driver(connection) as driver,
        driver.transaction(),
    ):
        yield driver


@asynccontextmanager
async def _in_a_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncConnection]:
    async with sessionmaker.begin() as session:
        yield await session.connection()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
