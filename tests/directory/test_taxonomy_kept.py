"""The taxonomy changes only at `migrate`: a process reads it once, and again after a sync."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.directory.taxonomy import sync_taxonomy
from tests.support import Headers


@contextmanager
def domain_reads(connection: AsyncConnection) -> Iterator[list[str]]:
    """The statements reading the domains table while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if "FROM domains" in statement:
            seen.append(statement)

    sync = connection.sync_engine
    event.listen(sync, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", record)


async def test_routes_read_the_taxonomy_once(
    client: httpx.AsyncClient, admin: Headers, app: FastAPI, connection: AsyncConnection
) -> None:
    with domain_reads(connection) as seen:
        first = await client.get("/v1/domains", headers=admin)
    assert first.status_code == 200 and len(first.json()) == 41
    assert len(seen) == 1
    with domain_reads(connection) as seen:
        for path in ("/v1/domains", "/v1/committees", "/v1/organizations?domain=iot"):
            response = await client.get(path, headers=admin)
            assert response.status_code == 200, response.text
    assert seen == []
    assert app.state.taxonomy[1].by_code["pet_products"].name_zh_hans == "宠物用品"


async def test_a_sync_makes_the_next_request_read_it_again(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession, connection: AsyncConnection
) -> None:
    await client.get("/v1/domains", headers=admin)
    await sync_taxonomy(session)
    with domain_reads(connection) as seen:
        await client.get("/v1/domains", headers=admin)
    assert len(seen) == 1
