"""Known keys cost no statement, and every change to a key makes every process forget them."""

import asyncio
import time
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.auth.known_keys import KNOWN_KEYS, KnownKeys
from service.auth.service import Principal
from tests.support import KeyFactory, StatementLog


def test_a_lookup_that_raced_a_forgetting_is_not_kept() -> None:
    known = KnownKeys()
    principal = Principal(key_id=uuid.uuid4(), role="kiosk")
    before = known.generation
    known.forget_all()  # a revocation heard while the lookup was on its way
    known.remember("hash", principal, generation=before)
    assert known.get("hash") is None
    known.remember("hash", principal, generation=known.generation)
    assert known.get("hash") == principal


async def test_a_known_key_costs_no_statement(
    committed_client: httpx.AsyncClient, committed_key: KeyFactory, statements: StatementLog
) -> None:
    kiosk = await committed_key("kiosk")
    with statements.counting():
        first = await committed_client.get("/v1/committees", headers=kiosk)
    assert first.status_code == 403
    assert any("api_keys" in s for s in statements.statements), statements.statements
    with statements.counting():
        again = await committed_client.get("/v1/committees", headers=kiosk)
    assert again.status_code == 403
    assert statements.statements == []


async def _revoke_behind_the_service(engine: AsyncEngine, headers: dict[str, str]) -> None:
    """Revoke a key as another machine, or an operator at a psql prompt, would: plain SQL."""
    prefix = headers["Authorization"].removeprefix("Bearer ")[:8]
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE prefix = :prefix"),
            {"prefix": prefix},
        )


async def test_a_revocation_made_elsewhere_is_heard_within_a_second(
    committed_app: FastAPI,
    committed_client: httpx.AsyncClient,
    committed_key: KeyFactory,
    is_postgres: bool,
) -> None:
    if not is_postgres:
        pytest.skip("SQLite serves one process; other processes' revocations are PostgreSQL's")
    kiosk = await committed_key("kiosk")
    assert (await committed_client.get("/v1/committees", headers=kiosk)).status_code == 403
    generation = KNOWN_KEYS.generation
    await _revoke_behind_the_service(committed_app.state.engine, kiosk)
    deadline = time.monotonic() + 1.0
    # Polled against a deadline: the bound itself is what the test asserts.
    while KNOWN_KEYS.generation == generation and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert KNOWN_KEYS.generation != generation, "the revocation was not heard within 1 s"
    refused = await committed_client.get("/v1/committees", headers=kiosk)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


async def test_keys_are_looked_up_while_revocations_could_go_unheard(
    committed_app: FastAPI,
    committed_client: httpx.AsyncClient,
    committed_key: KeyFactory,
    is_postgres: bool,
) -> None:
    if not is_postgres:
        pytest.skip("on SQLite nothing else can revoke a key unheard")
    kiosk = await committed_key("kiosk")
    assert (await committed_client.get("/v1/committees", headers=kiosk)).status_code == 403
    listener = committed_app.state.revocation_listener
    await listener.stop()  # as when its connection is lost: nothing from elsewhere is heard
    assert (await committed_client.get("/v1/committees", headers=kiosk)).status_code == 403
    await _revoke_behind_the_service(committed_app.state.engine, kiosk)
    refused = await committed_client.get("/v1/committees", headers=kiosk)
    assert refused.status_code == 401
