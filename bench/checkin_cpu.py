"""CPU of one first check-in, in process, on a published schedule (issue 23: at most 1.5 ms).

    .venv/bin/python -m bench.checkin_cpu [--copies 4]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

A scratch database beside the one named (dropped afterwards) gets the demo, its schedule built
and published (every one of its 57 participants has meetings) and `--copies` copies of the event
with that schedule, as bench/load.py makes them. The service's app then runs in this process
(webhook delivery off, rate limits in memory), driven by an httpx client over ASGI: no network,
no server, no other process on the request's path. Each badge is checked in once by a kiosk key
(a first check-in, whose answer carries the day's agenda), and the process's CPU time
(`time.process_time`, the client's share included) and the database statements are counted per
request. `/healthz` and one committee's GET are measured the same way, in the same process, as
what any request costs. The first copy warms the process up and is left out of the figures.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import event

from bench.load import copy_demo_event, machine, prepare, publish_demo_schedule, scratch_database

NONCE = "bench-cpu"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(
    send: Callable[[], Awaitable[httpx.Response]], counted: list[int]
) -> tuple[float, int, httpx.Response]:
    """CPU seconds and statements of one request."""
    before = len(counted)
    started = time.process_time()
    response = await send()
    return time.process_time() - started, len(counted) - before, response


async def run(database_url: str, copies: int) -> None:
    from service.app import create_app
    from service.auth.service import create_api_key
    from service.config import Settings

    await publish_demo_schedule(database_url)
    badges = await copy_demo_event(database_url, copies + 1)
    # The demo event is a day of 2025, scanned live here: the door's grace is widened past it.
    settings = Settings(
        database_url=database_url,
        webhook_worker_enabled=False,
        checkin_grace_hours=1_000_000,
        log_level="WARNING",  # an access log line per request would be measured too
    )
    app = create_app(settings)
    counted: list[int] = []
    async with app.router.lifespan_context(app):
        event.listen(
            app.state.engine.sync_engine,
            "before_cursor_execute",
            lambda *args: counted.append(1),
        )
        async with app.state.sessionmaker.begin() as session:
            _, kiosk = await create_api_key(session, name="bench cpu", role="kiosk")
            _, admin = await create_api_key(session, name="bench cpu reader", role="admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            door = {"Authorization": f"Bearer {kiosk}"}
            reader = {"Authorization": f"Bearer {admin}"}
            committee = (await client.get("/v1/committees?limit=1", headers=reader)).json()
            committee_url = f"/v1/committees/{committee['items'][0]['id']}"
            by_event: dict[str, list[str]] = {}
            for event_id, code in badges:
                by_event.setdefault(event_id, []).append(code)
            events = list(by_event)
            checkins: list[tuple[float, int]] = []
            health: list[float] = []
            reads: list[tuple[float, int]] = []
            for number, event_id in enumerate(events):
                warm = number == 0
                for code in by_event[event_id]:

                    def scan(event_id: str = event_id, code: str = code) -> Any:
                        body = {"badge_code": code, "nonce": f"{NONCE}-{uuid.uuid4().hex}"}
                        return client.post(
                            f"/v1/events/{event_id}/checkins", json=body, headers=door
                        )

                    cpu, statements, response = await measure(scan, counted)
                    assert response.status_code == 201, response.text
                    assert response.json()["agenda"], "a participant without meetings"
                    cpu_health, _, _ = await measure(lambda: client.get("/healthz"), counted)
                    cpu_read, read_statements, read = await measure(
                        lambda: client.get(committee_url, headers=reader), counted
                    )
                    assert read.status_code == 200, read.text
                    if not warm:
                        checkins.append((cpu, statements))
                        health.append(cpu_health)
                        reads.append((cpu_read, read_statements))

    cpu = [c * 1000 for c, _ in checkins]
    statements = [s for _, s in checkins]
    print(machine())
    print(
        f"first check-ins measured: {len(checkins)}, in {len(events) - 1} copies of the demo event"
    )
    print(
        f"check-in CPU: median {statistics.median(cpu):.2f} ms, p10 {percentile(cpu, 0.1):.2f}, "
        f"p90 {percentile(cpu, 0.9):.2f}; statements {min(statements)}-{max(statements)}, "
        f"median {statistics.median(statements)}"
    )
    health_ms = [c * 1000 for c in health]
    read_ms = [c * 1000 for c, _ in reads]
    print(f"/healthz CPU: median {statistics.median(health_ms):.2f} ms")
    print(
        f"one committee CPU: median {statistics.median(read_ms):.2f} ms, "
        f"statements median {statistics.median(s for _, s in reads)}"
    )
    verdict = "met" if statistics.median(cpu) <= 1.5 else "not met"
    print(f"goal: median first check-in CPU <= 1.5 ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--copies", type=int, default=4, help="events measured (57 badges each)")
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        prepare(url)
        asyncio.run(run(url, args.copies))


if __name__ == "__main__":
    main()
