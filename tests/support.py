"""What the tests share: the demo's names, API helpers, the command line, server processes.

One module, so no test module imports another's (private) names.
"""

import asyncio
import concurrent.futures
import contextlib
import io
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service import __main__ as cli
from service.auth.service import create_api_key
from service.config import Settings, get_settings
from service.db import Base, create_engine, hear_statements

Headers = dict[str, str]
KeyFactory = Callable[..., Awaitable[Headers]]
Workers = tuple[httpx.AsyncClient, httpx.AsyncClient]

# The suite's events (the demo's included) are days of 2025 that tests check in to live: the
# door's grace is widened past them, and the rule is tested with the default grace in
# tests/checkins/test_scan_times.py.
SUITE_CHECKIN_GRACE_HOURS = 1_000_000

WENZHOU = "浙江省标准稳链提升暨标技委建设工作推进会 · 技术委员会对接活动"


def random_id() -> str:
    return str(uuid.uuid4())


def slots(count: int = 3, minutes: int = 20) -> list[dict[str, str]]:
    """Equal slots of a test event, one an hour from 09:00 on 10 October 2025."""
    return [
        {
            "start": f"2025-10-10T{9 + i:02d}:00:00+08:00",
            "end": f"2025-10-10T{9 + i:02d}:{minutes:02d}:00+08:00",
        }
        for i in range(count)
    ]


EVENT = {
    "name_zh": "测试对接会",
    "venue": "温州",
    "date": "2025-10-10",
    "slots": slots(),
    "tables": 5,
}


async def read_demo_event(client: httpx.AsyncClient, headers: Headers) -> dict[str, Any]:
    """The demo's Wenzhou event, as the API shows it."""
    events = (await client.get("/v1/events", headers=headers)).json()["items"]
    return next(e for e in events if e["name_zh"] == WENZHOU)


async def demo_participants(
    client: httpx.AsyncClient, admin: Headers
) -> tuple[str, list[dict[str, Any]]]:
    """The demo event's id and every participant of it, as the API shows them."""
    event = await read_demo_event(client, admin)
    items = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
        )
    ).json()["items"]
    return event["id"], items


async def small_event(
    client: httpx.AsyncClient,
    admin: Headers,
    committees: list[dict[str, Any]],
    organizations: list[dict[str, Any]],
    **participant: Any,
) -> tuple[str, list[dict[str, Any]]]:
    """A new open event with these committees and organizations registered, one person each
    (`participant` adds fields by party id): its id and the participants."""
    event = (await client.post("/v1/events", json={**EVENT, "state": "open"}, headers=admin)).json()
    registered = []
    for party in (*committees, *organizations):
        registered.append(
            (
                await client.post(
                    f"/v1/events/{event['id']}/participants",
                    json={
                        **key_for(party),
                        "people": [{"name": "代表"}],
                        **participant.get(party["id"], {}),
                    },
                    headers=admin,
                )
            ).json()
        )
    return event["id"], registered


async def demo_participant(
    client: httpx.AsyncClient, admin: Headers, index: int = 0
) -> tuple[str, dict[str, Any]]:
    """The demo event's id and its participant at `index` (tests take different ones)."""
    event_id, items = await demo_participants(client, admin)
    return event_id, items[index]


async def parties(
    client: httpx.AsyncClient, admin: Headers
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The demo event's id, its committees' and its organizations' participants."""
    event_id, items = await demo_participants(client, admin)
    committees = [p for p in items if p["party"]["kind"] == "committee"]
    organizations = [p for p in items if p["party"]["kind"] != "committee"]
    return event_id, committees, organizations


async def published_small_event(
    client: httpx.AsyncClient, admin: Headers
) -> tuple[str, list[dict[str, Any]]]:
    """An open event of two committees and six organizations whose schedule is published, the
    first committee with meetings (must-meet with three organizations, whatever they score)."""
    _, committees, organizations = await parties(client, admin)
    event_id, registered = await small_event(client, admin, committees[:2], organizations[:6])
    for organization in registered[2:5]:
        marked = await client.post(
            f"/v1/events/{event_id}/preferences",
            json={
                "participant_id": registered[0]["id"],
                "counterpart_id": organization["id"],
                "kind": "must_meet",
            },
            headers=admin,
        )
        assert marked.status_code in (200, 201), marked.text
    await client.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    published = await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    assert published.status_code == 200, published.text
    return event_id, registered


# A simple client's build: wait for the draft (201) instead of following the build (202).
WAIT = {"Prefer": "wait=60"}


async def build_and_publish(
    client: httpx.AsyncClient, admin: Headers, event_id: str
) -> dict[str, Any]:
    """Build the event's schedule and publish it; the published schedule."""
    built = await client.post(
        f"/v1/events/{event_id}/schedule",
        json={"time_limit_seconds": 5},
        headers={**admin, **WAIT},
    )
    assert built.status_code == 201, built.text
    published = await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    assert published.status_code == 200, published.text
    return dict(published.json())


def key_for(participant: dict[str, Any]) -> dict[str, str]:
    """The binding of a partner key that speaks for this participant's party."""
    kind = "committee_id" if participant["party"]["kind"] == "committee" else "organization_id"
    return {kind: participant["party"]["id"]}


async def key_in(
    maker: Any,
    role: str = "admin",
    *,
    name: str | None = None,
    permissions: tuple[str, ...] | list[str] = (),
    **binding: Any,
) -> Headers:
    """Create an API key through a sessionmaker and return its Authorization header."""
    binding = {k: uuid.UUID(str(v)) for k, v in binding.items()}
    async with maker.begin() as session:
        _, secret = await create_api_key(
            session,
            name=name or f"test {role}",
            role=role,
            permissions=list(permissions),
            **binding,
        )
    return {"Authorization": f"Bearer {secret}"}


@contextlib.asynccontextmanager
async def new_postgres_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database on the PostgreSQL server of `server_url`, dropped (with any session
    still on it) afterwards; its URL. Concurrent runs and xdist workers never meet."""
    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(Settings(database_url=server_url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


class StatementLog:
    """The SQL statements an engine executed while `counting` was open (`hear_statements`:
    SQLAlchemy's, and the service's own sent to asyncpg, heard on connections checked out
    after counting began). asyncpg hands a logged query over on the event loop's next turn:
    `await settled()` before reading `statements`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self._stop: Callable[[], None] = lambda: None

    def counting(self) -> "StatementLog":
        self.statements = []
        return self

    @staticmethod
    async def settled() -> None:
        """Let the loop deliver the driver's logged queries."""
        await asyncio.sleep(0)

    def __enter__(self) -> "StatementLog":
        self._stop = hear_statements(self.engine, lambda sql: self.statements.append(sql))
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop()


async def delete_rows_since(engine: AsyncEngine, started: datetime) -> None:
    """Delete what a test that committed wrote: rows created since it began."""
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if "created_at" in table.c:
                await connection.execute(delete(table).where(table.c.created_at >= started))
            elif table.name == "idempotency_records":
                await connection.execute(delete(table))


# --- the command line ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_cli(*args: str, env: dict[str, str], check: bool = True) -> CliRun:
    """`python -m service ARGS` with the settings in `env` (DATABASE_URL among them), run in
    this process through its `main(argv)`: what it printed and its exit code.

    In-process saves an interpreter's start-up per command; tests that need a process of its
    own (serving, signals) start one with ServerProcess. From inside a running event loop the
    command runs on a thread, since it starts a loop of its own.
    """
    saved = {name: os.environ.get(name) for name in env}
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return cli.main(list(args))
            except SystemExit as exit_:  # argparse refusing the arguments, as a process would
                return exit_.code if isinstance(exit_.code, int) else 1

    os.environ.update(env)
    get_settings.cache_clear()
    try:
        if _loop_running():
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                code = pool.submit(run).result()
        else:
            code = run()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
    result = CliRun(code, out.getvalue(), err.getvalue())
    if check:
        assert code == 0, f"`service {' '.join(args)}` failed:\n{result.stderr}"
    return result


# --- server processes ---------------------------------------------------------------------------


REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now: any, or one of TEST_PORTS
    (`8450-8499`) where that is set, for machines that give each user a range."""
    low, _, high = os.environ.get("TEST_PORTS", "0-0").partition("-")
    # In random order: two ports asked for before either is bound should differ.
    for port in random.sample(range(int(low), int(high) + 1), int(high) - int(low) + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise AssertionError(f"no free port in TEST_PORTS={os.environ['TEST_PORTS']}")


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a service process: this one's, the database, and the settings given."""
    # The demo event is a day of 2025 that these tests check in to live.
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "CHECKIN_GRACE_HOURS": str(SUITE_CHECKIN_GRACE_HOURS),
        **settings,
    }


def _children(pid: int) -> list[int]:
    try:
        text_ = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text_.split()]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


@dataclass
class ServerProcess:
    """`python -m service serve` as a child process: started, awaited ready, always stopped."""

    database_url: str
    workers: int = 4
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="smk-serve-", suffix=".log")[1])
    )

    def __post_init__(self) -> None:
        # The log is read when a test fails, then removed: tests leave no files behind.
        self._finalizer = weakref.finalize(self, self.log_path.unlink, missing_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "service", "serve", "--workers", str(self.workers)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                cwd=REPO,
                env=service_env(self.database_url, **self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self, within: float = 180) -> None:
        """Until /readyz answers 200 (or fail, showing the server's log)."""
        assert self.process is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"server exited:\n{self.log()}"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"server not ready after {within} s:\n{self.log()}")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL to the whole process group if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return _children(self.process.pid)

    def pid_serving(self, client_port: int) -> int | None:
        """The worker process holding the server side of the connection from client_port."""
        wanted = f"0100007F:{self.port:04X} 0100007F:{client_port:04X}"
        inode = None
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if f"{parts[1]} {parts[2]}" == wanted:
                inode = parts[9]
                break
        if inode is None:
            return None
        for pid in self.worker_pids():
            if inode in _socket_inodes(pid):
                return pid
        return None


async def unchanged_then_changed(
    client: httpx.AsyncClient,
    admin: Headers,
    url: str,
    same: dict[str, Any],
    change: dict[str, Any],
) -> None:
    """PATCHing `url` with nothing and with `same` keeps its version, ETag and updated_at;
    `change` then moves the ETag (so the check can fail)."""
    read = await client.get(url, headers=admin)
    assert read.status_code == 200, read.text
    tag = read.headers["etag"]
    for body in ({}, same):
        patched = await client.patch(url, json=body, headers={**admin, "If-Match": tag})
        assert patched.status_code == 200, f"{url} {body}: {patched.text}"
        assert patched.headers["etag"] == tag, f"{url} {body}"
        assert patched.json()["version"] == read.json()["version"]
        assert patched.json().get("updated_at") == read.json().get("updated_at")
    assert (await client.get(url, headers=admin)).headers["etag"] == tag
    moved = await client.patch(url, json=change, headers={**admin, "If-Match": tag})
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] != tag
