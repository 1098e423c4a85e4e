"""Faults: PostgreSQL restarted under a check-in load, and SIGTERM with a request in flight.

Both run against a throw-away cluster that this module creates with initdb on a free port and
removes afterwards; the shared server is never touched.
"""

import asyncio
import contextlib
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support import WENZHOU, ServerProcess, free_port, run_cli, service_env

# A scan keeps its outcome (migration 0009), from which its answer's status follows.
STATUS_OF_OUTCOME = {"checked_in": 201, "already_checked_in": 200}

# A request that the service has not answered after this long counts as hung.
CLIENT_TIMEOUT_S = 10.0
# How long the database stays down, and how soon after it is back the service must serve.
DOWN_FOR_S = 3.0
RECOVERY_S = 5.0


def _postgres_bindir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class Cluster:
    """A PostgreSQL cluster of our own: initdb in a temp dir, started and stopped at will."""

    bindir: Path
    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        # initdb and postgres refuse to run as root; the tests may well be root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"{command[0]} failed: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.directory, postgres.pw_uid, postgres.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            *("-D", str(self.directory / "data"), "-U", "postgres", "-A", "trust"),
            *("--no-sync", "--no-instructions", "-E", "UTF8", "--locale", "C"),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            *("-D", str(self.directory / "data"), "-l", str(self.directory / "log")),
            *("-o", options, "-w", "-t", "30", "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            *("-D", str(self.directory / "data"), "-m", mode, "-w", "-t", "30", "stop"),
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bindir = _postgres_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root")
    directory = Path(tempfile.mkdtemp(prefix="smk-faults-"))
    cluster = Cluster(bindir, directory)
    try:
        cluster.init()
        cluster.start()
        env = service_env(cluster.url)
        run_cli("migrate", env=env)
        run_cli("load-demo", env=env)
        yield cluster
    finally:
        with contextlib.suppress(AssertionError):  # already stopped
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


async def _kiosk_setup(cluster: Cluster, base_url: str) -> tuple[str, dict[str, str], list[Any]]:
    env = service_env(cluster.url)
    secret = run_cli("create-api-key", "--role", "admin", "--name", "faults", env=env).stdout
    admin = {"Authorization": f"Bearer {secret.strip().splitlines()[-1]}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=CLIENT_TIMEOUT_S) as client:
        kiosk_key = (
            await client.post("/v1/api-keys", json={"name": "door", "role": "kiosk"}, headers=admin)
        ).json()
        events = (await client.get("/v1/events", headers=admin)).json()["items"]
        event = next(e for e in events if e["name_zh"] == WENZHOU)
        participants = (
            await client.get(
                f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
            )
        ).json()["items"]
    kiosk = {"Authorization": f"Bearer {kiosk_key['secret']}"}
    return event["id"], kiosk, participants


@dataclass
class Answer:
    sent: float
    answered: float
    status: int  # 0 when the request got no answer at all
    badge: str = ""
    nonce: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""


async def _post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> Answer:
    sent = time.monotonic()
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        return Answer(sent, time.monotonic(), 0, error=repr(exc))
    body = response.json() if response.content else {}
    return Answer(sent, time.monotonic(), response.status_code, body=body, headers=response.headers)


@pytest.fixture
async def server(cluster: Cluster) -> AsyncIterator[ServerProcess]:
    served = ServerProcess(cluster.url, workers=2, settings={"POOL_TIMEOUT_S": "2"})
    served.start()
    try:
        await served.wait_ready()
        yield served
    finally:
        served.stop()


async def test_database_restart_under_check_in_load(
    cluster: Cluster, server: ServerProcess
) -> None:
    event_id, kiosk, participants = await _kiosk_setup(cluster, server.base_url)
    url = f"/v1/events/{event_id}/checkins"
    badges = [p["badge_code"] for p in participants]
    random.Random(8).shuffle(badges)
    queue = iter(badges)
    answers: list[Answer] = []
    readiness: list[tuple[float, int, dict[str, str]]] = []
    done = asyncio.Event()

    async def kiosk_loop(number: int, client: httpx.AsyncClient) -> None:
        # A kiosk scans the next badge, retries the same scan (same nonce) until it has an
        # answer, then scans the same badge again as people do; then a short pause.
        for count, badge in enumerate(queue):
            for scan in (f"k{number}-{count}-a", f"k{number}-{count}-b"):
                while True:
                    answer = await _post(
                        client, url, json={"badge_code": badge, "nonce": scan}, headers=kiosk
                    )
                    answer.badge, answer.nonce = badge, scan
                    answers.append(answer)
                    if answer.status != 503:
                        break
                    await asyncio.sleep(0.1)  # shorter than Retry-After, to keep the test fast
            await asyncio.sleep(0.25)

    async def watch_readiness(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            try:
                response = await client.get("/readyz")
                readiness.append((time.monotonic(), response.status_code, dict(response.headers)))
            except httpx.HTTPError:
                readiness.append((time.monotonic(), 0, {}))
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(base_url=server.base_url, timeout=CLIENT_TIMEOUT_S) as client:
        watcher = asyncio.create_task(watch_readiness(client))
        kiosks = [asyncio.create_task(kiosk_loop(n, client)) for n in range(4)]
        await asyncio.sleep(2.0)  # a load of check-ins with the database up
        stopping = time.monotonic()
        await asyncio.to_thread(cluster.stop, "immediate")
        down = time.monotonic()
        # A POST with an Idempotency-Key is refused before any work: the key cannot be claimed.
        keyed = await _post(
            client,
            "/v1/api-keys",
            json={"name": "while down", "role": "kiosk"},
            headers={**kiosk, "Idempotency-Key": "while-down"},
        )
        await asyncio.sleep(DOWN_FOR_S - (time.monotonic() - down))
        restarting = time.monotonic()
        await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*kiosks), timeout=60)
        await asyncio.sleep(0.5)
        done.set()
        await watcher

    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {200, 201, 503}, [
        (a.status, a.error, a.body) for a in answers if a.status not in (200, 201, 503)
    ]
    unavailable = [a for a in answers if a.status == 503]
    assert any(down <= a.sent <= restarting for a in unavailable), statuses
    for a in unavailable:
        assert a.headers["content-type"] == "application/problem+json"
        assert a.body["code"] == "database_unavailable" and a.body["status"] == 503
        assert int(a.headers["retry-after"]) >= 1
    assert max(a.answered - a.sent for a in answers) < CLIENT_TIMEOUT_S
    assert keyed.status == 503 and keyed.body["code"] == "database_unavailable", keyed
    assert "retry-after" in keyed.headers

    # Readiness: green before, red while the database is down, green again after.
    assert any(t < stopping and s == 200 for t, s, _ in readiness)
    red = [(t, h) for t, s, h in readiness if s == 503 and stopping <= t <= back]
    assert red and all("retry-after" in h for _, h in red)
    assert readiness[-1][1] == 200

    # Serving again within RECOVERY_S of the database being back, with no restart.
    served_again = min(a.answered for a in answers if a.sent >= back and a.status in (200, 201))
    assert served_again - back < RECOVERY_S, served_again - back
    assert server.process is not None and server.process.poll() is None

    # Every badge was answered in the end, once with 201 at most; every 2xx is in the database.
    succeeded = [a for a in answers if a.status in (200, 201)]
    assert {a.badge for a in succeeded} == set(badges)
    assert all(n <= 1 for n in Counter(a.badge for a in succeeded if a.status == 201).values())
    connection = await asyncpg.connect(cluster.dsn)
    try:
        checked_in = {
            r["badge_code"]: r["count"]
            for r in await connection.fetch(
                "SELECT p.badge_code, count(*) FROM checkins c "
                "JOIN participants p ON p.id = c.participant_id GROUP BY p.badge_code"
            )
        }
        scans = {
            r["nonce"]: STATUS_OF_OUTCOME[r["outcome"]]
            for r in await connection.fetch(
                "SELECT nonce, outcome FROM scans WHERE event_id = $1", uuid.UUID(event_id)
            )
        }
    finally:
        await connection.close()
    assert set(checked_in) == set(badges) and set(checked_in.values()) == {1}
    for a in succeeded:
        assert scans.get(a.nonce) == a.status, (a.nonce, a.status, scans.get(a.nonce))


async def test_sigterm_lets_the_request_in_flight_finish(
    cluster: Cluster, server: ServerProcess
) -> None:
    event_id, kiosk, participants = await _kiosk_setup(cluster, server.base_url)
    assert server.process is not None
    holder = await asyncpg.connect(cluster.dsn)
    try:
        # Hold the scans table so that the check-in below is in flight, waiting on the lock.
        lock = holder.transaction()
        await lock.start()
        await holder.execute("LOCK TABLE scans IN SHARE ROW EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            scan = {"badge_code": participants[-1]["badge_code"], "nonce": "in-flight"}
            in_flight = asyncio.create_task(
                _post(client, f"/v1/events/{event_id}/checkins", json=scan, headers=kiosk)
            )
            await _until_waiting_on_lock(cluster.dsn)
            server.process.send_signal(signal.SIGTERM)
            # The signal goes to the supervisor, which passes it on to its workers: give it a
            # moment to arrive before the request may go on.
            await asyncio.sleep(1.0)
            assert server.process.poll() is None, "exited with a request in flight"
            await lock.commit()
            answer = await in_flight
        recorded = STATUS_OF_OUTCOME[
            await holder.fetchval("SELECT outcome FROM scans WHERE nonce = 'in-flight'")
        ]
    finally:
        await holder.close()
    assert answer.status in (200, 201), (answer.status, answer.body, answer.error)
    assert recorded == answer.status
    exit_code = await asyncio.to_thread(server.process.wait, 30)
    assert exit_code == 0, server.log()
    assert "Traceback" not in server.log(), server.log()


async def _until_waiting_on_lock(dsn: str) -> None:
    # Another connection than the lock holder's: a transaction sees one snapshot of the stats.
    watcher = await asyncpg.connect(dsn)
    try:
        for _ in range(200):
            if await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                # On PostgreSQL the scan is written within the check-in's one statement.
                "WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO scans%'"
            ):
                return
            await asyncio.sleep(0.05)
    finally:
        await watcher.close()
    raise AssertionError("the check-in never reached the locked table")
