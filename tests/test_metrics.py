"""/metrics: requests by route template and status, latency, the pool, the webhook backlog."""

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from service.metrics import exposition_registry, pool_figures
from service.models import WebhookSubscription
from service.webhooks.service import emit
from tests.support import Headers

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = (await client.get("/v1/committees", headers=admin)).json()["items"][0]
    route = "/v1/committees/{committee_id}"
    before = await scrape(client)
    assert (await client.get(f"/v1/committees/{committee['id']}", headers=admin)).is_success
    await client.get(f"/v1/committees/{committee['id']}")  # no key: 401
    await client.get("/v1/no-such-thing/unlisted-path-xq", headers=admin)
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("smk_http_requests_total", method="GET", route=route, status="200") == 1
    assert grew("smk_http_requests_total", method="GET", route=route, status="401") == 1
    assert grew("smk_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("smk_http_request_duration_seconds_count", method="GET", route=route) == 2
    assert grew("smk_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf")
    # Raw paths would make a series per id; only templates appear, and never a key.
    body = (await client.get("/metrics")).text
    # (A random-looking path part, not digits: digits turn up in the timestamps of the output.)
    assert committee["id"] not in body and "unlisted-path-xq" not in body
    assert admin["Authorization"].split()[1] not in body


async def test_requests_refused_before_routing_count_under_their_route(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    before = await scrape(client)
    json_headers = {**admin, "Content-Type": "application/json"}
    too_large = b"[" + b" " * (1024 * 1024 + 10) + b"]"
    assert (
        await client.post("/v1/committees", content=too_large, headers=json_headers)
    ).status_code == 413
    assert (
        await client.post("/v1/committees", content=b"{", headers=json_headers)
    ).status_code == (422)
    assert (await client.post("/v1/committees", content=b"{}", headers=admin)).status_code == 415
    csv_as_json = await client.post("/v1/organizations:import", content=b"{}", headers=json_headers)
    assert csv_as_json.status_code == 415
    # An action on a record: not the record's own route, whose {intent_id} would take
    # "x:transition" whole.
    action = "/v1/intents/00000000-0000-4000-8000-000000000000:transition"
    assert (await client.post(action, content=b"{", headers=json_headers)).status_code == 422
    after = await scrape(client)

    def grew(route: str, status: str) -> float:
        labels = {"method": "POST", "route": route, "status": status}
        return value(after, "smk_http_requests_total", **labels) - value(
            before, "smk_http_requests_total", **labels
        )

    assert grew("/v1/committees", "413") == 1
    assert grew("/v1/committees", "422") == 1
    assert grew("/v1/committees", "415") == 1
    assert grew("/v1/organizations:import", "415") == 1
    assert grew("/v1/intents/{intent_id}:transition", "422") == 1
    for status in ("413", "415", "422"):
        assert grew("unmatched", status) == 0


async def test_pool_overflow_is_never_negative(client: httpx.AsyncClient) -> None:
    class FreshQueuePool:
        """A queue pool that has opened nothing yet counts its overflow from minus its size."""

        def size(self) -> int:
            return 5

        def overflow(self) -> int:
            return -5

    class Engine:
        pool = FreshQueuePool()

    figures = {family.name: family.samples[0].value for family in pool_figures(Engine())}
    assert figures == {"smk_db_pool_size": 5.0, "smk_db_pool_overflow": 0.0}
    samples = await scrape(client)
    overflow = [v for (name, _), v in samples.items() if name == "smk_db_pool_overflow"]
    assert all(v >= 0 for v in overflow)


async def test_pool_use_is_read_at_scrape_time(client: httpx.AsyncClient) -> None:
    samples = await scrape(client)
    names = {name for name, _ in samples}
    # Both databases get a queue pool here; a pool that reports less shows less, not zeros.
    assert {"smk_db_pool_size", "smk_db_pool_checkedout"} <= names
    (labels,) = [dict(labels) for name, labels in samples if name == "smk_db_pool_checkedout"]
    assert labels["pool"].endswith("Pool")


async def test_webhook_queue_depth_counts_pending_deliveries(
    client: httpx.AsyncClient, session_factory: Callable[[], AsyncSession]
) -> None:
    before = value(await scrape(client), "smk_webhook_queue_depth")
    async with session_factory() as session, session.begin():
        for number in range(2):
            session.add(
                WebhookSubscription(
                    version=1,
                    url=f"https://partner.example/hooks/{number}",
                    event_types=["intent.created"],
                    secret="whsec_test",
                )
            )
        await session.flush()
        await emit(session, type="intent.created", data={"id": "x"})
    assert value(await scrape(client), "smk_webhook_queue_depth") == before + 2


def test_several_processes_add_up_in_multiprocess_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers count into PROMETHEUS_MULTIPROC_DIR; a scrape of any worker sees both."""
    record = textwrap.dedent(
        """
        from service.metrics import LATENCY, REQUESTS
        REQUESTS.labels("GET", "/healthz", "200").inc()
        LATENCY.labels("GET", "/healthz").observe(0.01)
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen([sys.executable, "-c", record], env=env, cwd=ROOT) for _ in range(2)
    ]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    # A scrape reads the directory; this process's own counters are not in multiprocess mode.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = parse(generate_latest(exposition_registry()).decode())
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(samples, "smk_http_requests_total", **labels) == 2
    count = "smk_http_request_duration_seconds_count"
    assert value(samples, count, method="GET", route="/healthz") == 2
