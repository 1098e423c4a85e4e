"""The per-key rate limit over HTTP: 429 with Retry-After; apps in one process count together.

Across processes (Redis) it is tested in tests/test_workers.py; the window in test_rate_limits.py.
"""

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.config import Settings
from tests.support import KeyFactory


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_partner": 3})


async def test_partner_over_its_limit_gets_429_across_workers(
    strict: Settings, committed_app: FastAPI, committed_key: KeyFactory
) -> None:
    engine = committed_app.state.engine
    admin = await committed_key("admin")
    first_worker, second_worker = (
        create_app(strict, engine=engine),
        create_app(strict, engine=engine),
    )
    async with (
        first_worker.router.lifespan_context(first_worker),
        second_worker.router.lifespan_context(second_worker),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first_worker), base_url="http://a"
        ) as a,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second_worker), base_url="http://b"
        ) as b,
    ):
        committee = (await a.get("/v1/committees", headers=admin)).json()["items"][0]
        partner = await committed_key("partner", committee_id=committee["id"])
        statuses = [
            (await (a if i % 2 else b).get("/v1/domains", headers=partner)).status_code
            for i in range(3)
        ]
        assert statuses == [200, 200, 200]
        limited = await b.get("/v1/domains", headers=partner)
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Admins are unlimited by default, and other keys have their own budget.
        for _ in range(5):
            assert (await a.get("/v1/domains", headers=admin)).status_code == 200
