"""The engine as configured: what a failed statement's error (and so a log line) may carry, and
what becomes of a pooled connection the database closed."""

import asyncio
import contextlib

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.config import Settings
from service.db import create_engine
from tests.support import KeyFactory


async def test_a_failed_statement_does_not_carry_its_parameters(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        with pytest.raises(DBAPIError) as failed:
            async with engine.begin() as connection:
                await connection.execute(
                    text("SELECT * FROM no_such_table WHERE phone = :phone"),
                    {"phone": "13800138000"},
                )
    finally:
        await engine.dispose()
    assert "no_such_table" in str(failed.value)
    assert "13800138000" not in str(failed.value)


async def test_connections_opened_for_requests_in_flight_stay_open_for_the_next(
    settings: Settings, is_postgres: bool
) -> None:
    # With SQLAlchemy's default (5 kept, 10 more closed once returned), 8 requests in flight
    # opened and closed a PostgreSQL connection every 160 requests or so.
    if not is_postgres:
        pytest.skip("SQLite's connections are files, not server processes")
    engine = create_engine(settings)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(8):
                connection = await stack.enter_async_context(engine.connect())
                await connection.execute(text("SELECT 1"))
        assert engine.pool.checkedin() == 8  # none closed
        assert engine.pool.size() == settings.pool_size >= 8
    finally:
        await engine.dispose()


async def test_a_connection_the_database_closed_is_not_used_again_for_the_drivers_statements(
    committed_app: FastAPI,
    committed_client: httpx.AsyncClient,
    committed_key: KeyFactory,
    is_postgres: bool,
) -> None:
    # A profile's GET and the door send their statements to asyncpg, past SQLAlchemy's own
    # handling of a lost connection; a pooled connection whose server process is gone (a
    # database restart) must not answer 503 again and again. Nothing else runs here that
    # would make SQLAlchemy replace it (the key is known, so reading it costs no statement).
    if not is_postgres:
        pytest.skip("statements sent to the driver are PostgreSQL's")
    engine = committed_app.state.engine
    reader = await committed_key("admin")
    committee = (await committed_client.get("/v1/committees?limit=1", headers=reader)).json()
    url = f"/v1/committees/{committee['items'][0]['id']}"
    assert (await committed_client.get(url, headers=reader)).status_code == 200  # key known

    async def pooled_server_pids() -> list[int]:
        async with contextlib.AsyncExitStack() as stack:
            drivers = []
            for _ in range(max(engine.pool.checkedin(), 1)):
                connection = await stack.enter_async_context(engine.connect())
                drivers.append((await connection.get_raw_connection()).driver_connection)
            return [driver.get_server_pid() for driver in drivers]

    async def terminate(pids: list[int]) -> None:
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        other = await asyncpg.connect(dsn)
        try:
            await other.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", pids)
        finally:
            await other.close()

    try:
        # As after a restart of the database: every pooled connection's server process gone,
        # noticed by the connections (the server says so as it ends them) before their next use.
        await terminate(await pooled_server_pids())
        await asyncio.sleep(0.3)
        answers = [await committed_client.get(url, headers=reader) for _ in "abc"]
        statuses = [answer.status_code for answer in answers]
        assert statuses == [200, 200, 200], answers[0].text
    finally:
        await engine.dispose()  # no connection of this test's left for the next one
