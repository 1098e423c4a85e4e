"""CPU of one first check-in, in process, on a published schedule (issue 23: at most 1.5 ms).

    .venv/bin/python -m bench.checkin_cpu [--copies 4]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

A scratch database beside the one named (dropped afterwards) gets the demo, its schedule built
and published (every one of its 57 participants has meetings) and `--copies` copies of the event
with that schedule, as bench/load.py makes them. The service's app then runs in this process
(webhook delivery off, rate limits in memory): no network, no server, no other process on the
request's path. Each badge is checked in once by a kiosk key (a first check-in, whose answer
carries the day's agenda), and the process's CPU time (`time.process_time`) and the database
statements are counted per request. `/healthz` and one committee's GET are measured the same way,
as what any request costs. The first copy warms the process up and is left out of the figures.

Requests go to the app two ways, alternately: called as an ASGI app directly (the scope, one
body message, the answer collected: what a server such as uvicorn hands over and takes back,
and next to nothing else), which measures the service's own CPU, the goal's; and through an
httpx client over ASGI, whose own share (building and parsing the request and answer, about
0.3 ms) is in its figures too, as in this bench's earlier figures.
"""

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx

from bench.load import copy_demo_event, machine, prepare, publish_demo_schedule, scratch_database

NONCE = "bench-cpu"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def call_asgi(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One request to the app as a server makes it: its status and body."""
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    if body:
        raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never leaves: wait as a server would
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def measure(
    send: Callable[[], Awaitable[tuple[int, bytes]]], counted: list[int]
) -> tuple[float, int, int, bytes]:
    """CPU seconds and statements of one request, with its status and body."""
    before = len(counted)
    started = time.process_time()
    status, body = await send()
    cpu = time.process_time() - started
    await asyncio.sleep(0)  # asyncpg hands a logged query over on the loop's next turn
    return cpu, len(counted) - before, status, body


class Figures:
    """CPU per request (ms) and statements, by what was asked and how."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.statements: dict[str, list[int]] = {}

    def add(self, name: str, cpu: float, statements: int) -> None:
        self.cpu.setdefault(name, []).append(cpu * 1000)
        self.statements.setdefault(name, []).append(statements)

    def line(self, name: str) -> str:
        cpu, statements = self.cpu[name], self.statements[name]
        return (
            f"{name}: CPU median {statistics.median(cpu):.2f} ms, p10 {percentile(cpu, 0.1):.2f}, "
            f"p90 {percentile(cpu, 0.9):.2f} ({len(cpu)} requests); statements "
            f"{min(statements)}-{max(statements)}"
        )


async def run(database_url: str, copies: int) -> None:
    from service.app import create_app
    from service.auth.service import create_api_key
    from service.config import Settings
    from service.db import hear_statements

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
    figures = Figures()
    async with app.router.lifespan_context(app):
        hear_statements(app.state.engine, lambda _: counted.append(1))
        async with app.state.sessionmaker.begin() as session:
            _, kiosk = await create_api_key(session, name="bench cpu", role="kiosk")
            _, admin = await create_api_key(session, name="bench cpu reader", role="admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            door = {"Authorization": f"Bearer {kiosk}"}
            reader = {"Authorization": f"Bearer {admin}"}
            committee = (await client.get("/v1/committees?limit=1", headers=reader)).json()
            committee_url = f"/v1/committees/{committee['items'][0]['id']}"

            async def via_httpx(
                method: str, path: str, headers: dict[str, str], body: bytes = b""
            ) -> tuple[int, bytes]:
                response = await client.request(
                    method,
                    path,
                    headers={**headers, "Content-Type": "application/json"} if body else headers,
                    content=body or None,
                )
                return response.status_code, response.content

            via_asgi = partial(call_asgi, app)
            by_event: dict[str, list[str]] = {}
            for event_id, code in badges:
                by_event.setdefault(event_id, []).append(code)
            events = list(by_event)
            for number, event_id in enumerate(events):
                warm = number == 0
                for index, code in enumerate(by_event[event_id]):
                    how, send = ("asgi", via_asgi) if index % 2 == 0 else ("httpx", via_httpx)
                    body = json.dumps({"badge_code": code, "nonce": f"{NONCE}-{uuid.uuid4().hex}"})
                    path = f"/v1/events/{event_id}/checkins"
                    cpu, statements, status, answer = await measure(
                        partial(send, "POST", path, door, body.encode()), counted
                    )
                    assert status == 201, answer
                    assert json.loads(answer)["agenda"], "a participant without meetings"
                    others = {
                        "/healthz": ("/healthz", {}),
                        "one committee": (committee_url, reader),
                    }
                    measured = [(f"first check-in ({how})", cpu, statements)]
                    for name, (url, headers) in others.items():
                        cpu, statements, status, answer = await measure(
                            partial(send, "GET", url, headers), counted
                        )
                        assert status == 200, answer
                        measured.append((f"{name} ({how})", cpu, statements))
                    if not warm:
                        for name, cpu, statements in measured:
                            figures.add(name, cpu, statements)

    print(machine())
    print(f"in {len(events) - 1} copies of the demo event, each badge checked in once")
    for name in figures.cpu:
        print(figures.line(name))
    server = statistics.median(figures.cpu["first check-in (asgi)"])
    verdict = "met" if server <= 1.5 else "not met"
    print(f"goal: median first check-in CPU of the service (asgi) <= 1.5 ms: {verdict}")


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
