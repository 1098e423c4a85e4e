"""The production shape: `serve --workers 4` on PostgreSQL, driven over loopback.

Each race sends its requests over connections that the test has seen accepted by different
worker processes (it reads the kernel's socket tables), so a guarantee that held only inside one
process would fail here: idempotency, rate limits, revocation, check-in de-duplication and the
schedule's no-double-booking rule.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from service.config import Settings
from tests.support import (
    EVENT,
    REPO,
    WENZHOU,
    ServerProcess,
    key_for,
    new_postgres_database,
    run_cli,
    service_env,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = 4


def tracing_client(server: ServerProcess, **kwargs: Any) -> httpx.AsyncClient:
    """A client whose responses carry `worker_pid`: the process that answered them."""

    async def note_worker(response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        address = stream.get_extra_info("client_addr") if stream is not None else None
        pid = server.pid_serving(address[1]) if address else None
        response.extensions["worker_pid"] = pid

    return httpx.AsyncClient(
        base_url=server.base_url, timeout=30, event_hooks={"response": [note_worker]}, **kwargs
    )


async def clients_on_distinct_workers(
    server: ServerProcess, *, wanted: int = WORKERS, attempts: int = 40
) -> list[httpx.AsyncClient]:
    """Clients, one per worker process, each holding a kept-alive connection to its worker.

    Connections go to whichever worker accepts first; opening them one by one until each worker
    has one avoids a race whose requests all landed in the same process.
    """
    kept: dict[int, httpx.AsyncClient] = {}
    for _ in range(attempts):
        client = tracing_client(server, limits=httpx.Limits(max_keepalive_connections=1))
        pid = (await client.get("/healthz")).extensions["worker_pid"]
        if pid is None or pid in kept:
            await client.aclose()
        else:
            kept[pid] = client
        if len(kept) >= wanted:
            break
    assert len(kept) >= 2, "every connection landed in one worker; the test would prove nothing"
    return list(kept.values())


async def close_all(clients: list[httpx.AsyncClient]) -> None:
    for client in clients:
        await client.aclose()


@dataclass
class Served:
    server: ServerProcess
    admin: dict[str, str]
    dsn: str  # for asyncpg, to look at the rows behind the answers

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()


RATE_LIMIT_PARTNER = 30


@pytest.fixture(scope="module")
async def scratch_postgres(settings: Settings) -> AsyncIterator[str]:
    """A fresh database on the test server, dropped afterwards; PostgreSQL only."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip(
            "several worker processes need PostgreSQL (SQLite is for one process); this runs "
            "in the PostgreSQL pass, with TEST_DATABASE_URL=postgresql+asyncpg://..."
        )
    async with new_postgres_database(settings.database_url, "scratch") as scratch:
        yield scratch


def start_build_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python -m service worker` as a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "service", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
async def served(scratch_postgres: str) -> AsyncIterator[Served]:
    env = service_env(scratch_postgres)
    run_cli("migrate", env=env)
    run_cli("load-demo", env=env)
    secret = run_cli("create-api-key", "--role", "admin", "--name", "workers", env=env).stdout
    admin = {"Authorization": f"Bearer {secret.strip().splitlines()[-1]}"}
    server = ServerProcess(
        scratch_postgres,
        settings={
            "RATE_LIMIT_PARTNER": str(RATE_LIMIT_PARTNER),
            "REDIS_URL": REDIS_URL,
            "SCHEDULE_TIME_LIMIT_SECONDS": "5",
        },
    )
    server.start()
    # Two build workers beside the web workers, as in compose.yaml: builds go to the queue.
    builders = [start_build_worker(env) for _ in range(2)]
    try:
        await server.wait_ready()
        assert len(server.worker_pids()) >= WORKERS, server.log()
        dsn = make_url(scratch_postgres).set(drivername="postgresql")
        yield Served(server, admin, dsn.render_as_string(hide_password=False))
    finally:
        server.stop()
        for builder in builders:
            builder.send_signal(signal.SIGTERM)
        codes = [builder.wait(60) for builder in builders]
    assert "Traceback" not in server.log(), server.log()
    assert codes == [0, 0]


def pids(responses: list[httpx.Response]) -> set[int]:
    return {r.extensions["worker_pid"] for r in responses} - {None}


async def spread(
    clients: list[httpx.AsyncClient], count: int, method: str, url: str, **kwargs: Any
) -> list[httpx.Response]:
    """count requests at once, dealt out over the clients (and so over the workers)."""
    return list(
        await asyncio.gather(
            *(clients[i % len(clients)].request(method, url, **kwargs) for i in range(count))
        )
    )


async def test_one_idempotency_key_sent_to_every_worker_has_one_effect(served: Served) -> None:
    name = f"idempotent {uuid.uuid4().hex[:8]}"
    headers = {**served.admin, "Idempotency-Key": f"create-{name}"}
    body = {"name": name, "role": "kiosk"}
    clients = await clients_on_distinct_workers(served.server)
    try:
        racing = await spread(clients, 8, "POST", "/v1/api-keys", json=body, headers=headers)
        later = await clients[-1].post("/v1/api-keys", json=body, headers=headers)
    finally:
        await close_all(clients)
    assert len(pids(racing)) >= 2
    fresh = [r for r in racing if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    replayed = [r for r in racing if r.headers.get("idempotent-replayed") == "true"]
    waiting = [r for r in racing if r.status_code == 409 and r not in replayed]
    assert len(fresh) == 1, [(r.status_code, r.text) for r in racing]
    assert len(fresh) + len(replayed) + len(waiting) == len(racing)
    # The answer held the key's secret, which is never stored: a replay says so, and where the
    # key is, instead of repeating the answer.
    for answer in (*replayed, later):
        assert answer.status_code == 409 and answer.headers["idempotent-replayed"] == "true"
        assert answer.json()["code"] == "secret_shown_once"
        assert answer.headers["location"] == fresh[0].headers["location"]
        assert fresh[0].json()["secret"] not in answer.text
    assert all(r.json()["code"] == "idempotency_in_progress" for r in waiting)
    rows = await served.fetch("SELECT id FROM api_keys WHERE name = $1", name)
    assert [str(r["id"]) for r in rows] == [fresh[0].json()["id"]]


async def _partner_key(served: Served, client: httpx.AsyncClient) -> dict[str, Any]:
    committee = (
        await client.get("/v1/committees", params={"limit": 1}, headers=served.admin)
    ).json()["items"][0]
    created = await client.post(
        "/v1/api-keys",
        json={"name": "partner system", "role": "partner", "committee_id": committee["id"]},
        headers=served.admin,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_rate_limit_is_counted_across_workers(served: Served) -> None:
    # Counted in Redis over a moving window: wherever the minute's boundary falls, the burst
    # gets the limit once, whichever workers serve it.
    clients = await clients_on_distinct_workers(served.server)
    try:
        key = await _partner_key(served, clients[0])
        partner = {"Authorization": f"Bearer {key['secret']}"}
        burst = await spread(
            clients, 2 * RATE_LIMIT_PARTNER, "GET", "/v1/committees?limit=1", headers=partner
        )
    finally:
        await close_all(clients)
    assert len(pids(burst)) >= 2
    assert Counter(r.status_code for r in burst) == {
        200: RATE_LIMIT_PARTNER,
        429: RATE_LIMIT_PARTNER,
    }
    limited = [r for r in burst if r.status_code == 429]
    assert all(r.json()["code"] == "rate_limited" for r in limited)
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in limited)


async def test_revoked_key_is_refused_by_every_worker_at_once(served: Served) -> None:
    clients = await clients_on_distinct_workers(served.server)
    try:
        key = await _partner_key(served, clients[0])
        partner = {"Authorization": f"Bearer {key['secret']}"}
        before = [await c.get("/v1/domains", headers=partner) for c in clients]
        revoked = await clients[0].delete(f"/v1/api-keys/{key['id']}", headers=served.admin)
        after = [await c.get("/v1/domains", headers=partner) for c in clients]
    finally:
        await close_all(clients)
    assert [r.status_code for r in before] == [200] * len(clients)
    assert revoked.status_code == 204
    assert len(pids(after)) >= 2
    assert [r.status_code for r in after] == [401] * len(clients)
    assert all(r.headers["www-authenticate"] == "Bearer" for r in after)
    assert all(r.json()["code"] == "unauthorized" for r in after)


async def _demo_participants(served: Served, client: httpx.AsyncClient) -> tuple[str, list[Any]]:
    events = (await client.get("/v1/events", headers=served.admin)).json()["items"]
    event = next(e for e in events if e["name_zh"] == WENZHOU)
    participants = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=served.admin
        )
    ).json()["items"]
    return event["id"], participants


async def test_concurrent_scans_of_one_badge_check_in_once(served: Served) -> None:
    clients = await clients_on_distinct_workers(served.server)
    try:
        kiosk_key = (
            await clients[0].post(
                "/v1/api-keys", json={"name": "door", "role": "kiosk"}, headers=served.admin
            )
        ).json()
        kiosk = {"Authorization": f"Bearer {kiosk_key['secret']}"}
        event_id, participants = await _demo_participants(served, clients[0])
        first, second = participants[0], participants[1]
        url = f"/v1/events/{event_id}/checkins"
        scans = await asyncio.gather(
            *(
                clients[i % len(clients)].post(
                    url,
                    json={"badge_code": first["badge_code"], "nonce": f"door-{i}"},
                    headers=kiosk,
                )
                for i in range(12)
            )
        )
        # One scan retried by a kiosk on every worker at once: one answer, one scan record.
        repeats = await spread(
            clients,
            6,
            "POST",
            url,
            json={"badge_code": second["badge_code"], "nonce": "door-retry"},
            headers=kiosk,
        )
    finally:
        await close_all(clients)
    assert len(pids(list(scans))) >= 2 and len(pids(repeats)) >= 2
    assert sorted(r.status_code for r in scans) == [200] * 11 + [201]
    assert {r.json()["checked_in_at"] for r in scans} == {
        next(r for r in scans if r.status_code == 201).json()["checked_in_at"]
    }
    assert all(r.json()["reason"] == "already_checked_in" for r in scans if r.status_code == 200)
    assert {r.status_code for r in repeats} == {201}
    assert all(r.json() == repeats[0].json() for r in repeats)
    checkins = await served.fetch(
        "SELECT participant_id FROM checkins WHERE participant_id = ANY($1::uuid[])",
        [first["id"], second["id"]],
    )
    assert sorted(str(r["participant_id"]) for r in checkins) == sorted([first["id"], second["id"]])
    recorded = await served.fetch(
        "SELECT badge_code, nonce FROM scans WHERE badge_code = ANY($1::text[])",
        [first["badge_code"], second["badge_code"]],
    )
    assert Counter(r["badge_code"] for r in recorded) == {
        first["badge_code"]: 12,
        second["badge_code"]: 1,
    }


async def test_one_slot_of_one_party_is_booked_once_across_workers(served: Served) -> None:
    clients = await clients_on_distinct_workers(served.server)
    admin = served.admin
    try:
        _, participants = await _demo_participants(served, clients[0])
        committees = [p for p in participants if p["party"]["kind"] == "committee"][:4]
        organization = next(p for p in participants if p["party"]["kind"] != "committee")
        event = (
            await clients[0].post("/v1/events", json={**EVENT, "state": "open"}, headers=admin)
        ).json()
        base = f"/v1/events/{event['id']}"
        registered = []
        for party in (*committees, organization):
            answer = await clients[0].post(
                f"{base}/participants",
                json={**key_for(party), "people": [{"name": "代表"}]},
                headers=admin,
            )
            assert answer.status_code == 201, answer.text
            registered.append(answer.json())
        built = await clients[0].post(
            f"{base}/schedule", json={}, headers={**admin, "Prefer": "wait=60"}
        )
        assert built.status_code == 201, built.text
        assert (await clients[0].post(f"{base}/schedule:publish", headers=admin)).is_success
        meetings = (
            await clients[0].get(f"{base}/meetings", params={"limit": 500}, headers=admin)
        ).json()["items"]
        for m in meetings:
            cancelled = await clients[0].patch(
                f"{base}/meetings/{m['id']}",
                json={"status": "cancelled"},
                headers={**admin, "If-Match": f'"{m["version"]}"'},
            )
            assert cancelled.status_code == 200, cancelled.text
        clients += await clients_on_distinct_workers(served.server)
        racing = await asyncio.gather(
            *(
                clients[i % len(clients)].post(
                    f"{base}/meetings",
                    json={
                        "committee_participant_id": committee["id"],
                        "organization_participant_id": registered[-1]["id"],
                        "slot": 2,
                    },
                    headers=admin,
                )
                for i, committee in enumerate(registered[:-1])
            )
        )
    finally:
        await close_all(clients)
    assert len(pids(list(racing))) >= 2
    assert sorted(r.status_code for r in racing) == [201, 409, 409, 409], [r.text for r in racing]
    assert {r.json()["code"] for r in racing if r.status_code == 409} == {"double_booked"}
    live = await served.fetch(
        "SELECT id FROM meetings WHERE organization_participant_id = $1 AND slot = 2 "
        "AND status <> 'cancelled'",
        uuid.UUID(registered[-1]["id"]),
    )
    assert len(live) == 1


async def test_builds_through_two_web_workers_run_once_each_on_the_build_workers(
    served: Served,
) -> None:
    clients = await clients_on_distinct_workers(served.server, wanted=2)
    admin = served.admin
    try:
        _, participants = await _demo_participants(served, clients[0])
        committees = [p for p in participants if p["party"]["kind"] == "committee"][:2]
        organizations = [p for p in participants if p["party"]["kind"] != "committee"][:3]
        bases = []
        for _ in range(2):
            event = (
                await clients[0].post("/v1/events", json={**EVENT, "state": "open"}, headers=admin)
            ).json()
            base = f"/v1/events/{event['id']}"
            for party in (*committees, *organizations):
                answer = await clients[0].post(
                    f"{base}/participants",
                    json={**key_for(party), "people": [{"name": "代表"}]},
                    headers=admin,
                )
                assert answer.status_code == 201, answer.text
            bases.append(base)
        # The same event through two web workers at once: one build, one clear refusal.
        racing = await asyncio.gather(
            *(c.post(f"{bases[0]}/schedule", json={}, headers=admin) for c in clients[:2])
        )
        assert pids(list(racing)) == {r.extensions["worker_pid"] for r in racing}
        assert sorted(r.status_code for r in racing) == [202, 409], [r.text for r in racing]
        refused = next(r for r in racing if r.status_code == 409).json()
        accepted = next(r for r in racing if r.status_code == 202)
        assert refused["code"] == "build_in_progress"
        assert refused["build_id"] == accepted.json()["id"]
        other = await clients[1].post(f"{bases[1]}/schedule", json={}, headers=admin)
        assert other.status_code == 202, other.text
        locations = [accepted.headers["location"], other.headers["location"]]
        deadline = time.monotonic() + 120
        while True:
            states = [
                (await clients[i].get(url, headers=admin)).json() for i, url in enumerate(locations)
            ]
            if all(b["state"] == "succeeded" for b in states):
                break
            assert time.monotonic() < deadline, states
            assert not {b["state"] for b in states} & {"failed", "cancelled"}, states
            await asyncio.sleep(0.2)
        ids = [b["id"] for b in states]
        rows = await served.fetch(
            "SELECT id, attempts, worker FROM schedule_builds WHERE id = ANY($1::uuid[])", ids
        )
        assert sorted(r["attempts"] for r in rows) == [1, 1]
        # Run by the build workers, not by the web processes that took the requests.
        web = {str(pid) for pid in served.server.worker_pids()}
        assert not {r["worker"].rsplit(":", 1)[1] for r in rows} & web
        jobs = await served.fetch(
            "SELECT args->>'build_id' AS build_id, status FROM procrastinate.procrastinate_jobs "
            "WHERE args->>'build_id' = ANY($1::text[])",
            ids,
        )
        assert sorted((j["build_id"], j["status"]) for j in jobs) == sorted(
            (i, "succeeded") for i in ids
        )
        built = await served.fetch(
            "SELECT payload->>'build_id' AS build_id FROM outbox_events "
            "WHERE type = 'schedule.built' AND payload->>'build_id' = ANY($1::text[])",
            ids,
        )
        assert sorted(b["build_id"] for b in built) == sorted(ids)
    finally:
        await close_all(clients)
