"""Request ids, JSON access logs without secrets, CORS off by default, database timeouts."""

import json
import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.app import create_app
from service.config import Settings
from service.logs import JsonLogFormatter
from tests.support import Headers


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "kiosk-7.0001"})
    assert given.headers["x-request-id"] == "kiosk-7.0001"
    insane = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert insane.headers["x-request-id"] != "bad id\twith spaces"
    assert len(insane.headers["x-request-id"]) == 32


async def test_access_log_is_json_without_secrets(
    client: httpx.AsyncClient, admin: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service.access")
    await client.get("/v1/committees", headers={**admin, "X-Request-ID": "trace-me"})
    records = [r for r in caplog.records if r.name == "service.access"]
    line = json.loads(JsonLogFormatter().format(records[-1]))
    assert line["request_id"] == "trace-me"
    assert line["route"] == "/v1/committees" and line["status"] == 200 and line["method"] == "GET"
    assert line["level"] == "info" and line["time"].endswith("Z")
    secret = admin["Authorization"].split()[1]
    assert secret not in json.dumps(line)


async def test_cors_is_off_until_origins_are_configured(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    refused = await client.options("/v1/committees", headers=preflight)
    assert "access-control-allow-origin" not in refused.headers
    allowed_app = create_app(
        settings.model_copy(update={"cors_origins": ["https://partner.example"]})
    )
    transport = httpx.ASGITransport(app=allowed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        ok = await other.options(
            "/v1/committees",
            headers={"Origin": "https://partner.example", "Access-Control-Request-Method": "GET"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://partner.example"


async def test_unexpected_errors_are_problems_without_stack_traces(
    settings: Settings, connection: AsyncConnection
) -> None:
    # An app of its own: the `app` fixture's is every test's, and /boom has no role gate.
    app = create_app(settings, bind=connection)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    # Starlette re-raises after answering so servers can log it; the client still gets the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        response = await client.get("/boom")
    assert response.status_code == 500
    problem = response.json()
    assert problem["code"] == "internal_error"
    assert problem["request_id"] == response.headers["x-request-id"]
    assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_postgres_statements_have_a_timeout(engine: AsyncEngine, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no statement timeout; its writes wait on busy_timeout instead")
    async with engine.connect() as connection:
        assert (await connection.execute(text("SHOW statement_timeout"))).scalar() == "5s"
