"""Schedule builds as jobs: 202 and a Location, live progress, one at a time, cancelling, the
draft and its webhook, and a worker killed in the middle of a build."""

import asyncio
import contextlib
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.schedule_load import insert_bench_event
from service.builds import service as builds
from service.config import Settings
from service.db import Base, create_sessionmaker
from service.directory.taxonomy import load_taxonomy
from service.jobs import queue
from service.models import Event, Meeting, OutboxEvent, ScheduleBuild
from service.models.columns import utcnow
from service.schedules import service as schedules
from service.solver import clock
from tests.support import WAIT, KeyFactory, parties, small_event

REPO = Path(__file__).resolve().parents[2]
BUILD_URL = re.compile(r"^/v1/events/[0-9a-f-]{36}/schedule-builds/[0-9a-f-]{36}$")


async def follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], *, until: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Poll a build as a browser would, every 0.1 s, until its state is one of `until`."""
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        answer = await client.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        seen.append(answer.json())
        if seen[-1]["state"] in until:
            return seen
        assert answer.headers["retry-after"] == "1"
        await asyncio.sleep(0.1)
    raise AssertionError(f"the build stayed {seen[-1]['state']}")


async def test_a_build_answers_at_once_then_shows_its_progress_and_gives_the_draft(
    committed_client: httpx.AsyncClient,
    committed_app: FastAPI,
    committed_key: KeyFactory,
    build_worker: None,
) -> None:
    admin = await committed_key("admin")
    client = committed_client
    _, committees, organizations = await parties(client, admin)
    event_id, _ = await small_event(client, admin, committees[:2], organizations[:4])
    url = f"/v1/events/{event_id}/schedule"
    accepted = await client.post(url, json={"time_limit_seconds": 10}, headers=admin)
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    assert BUILD_URL.match(location) and location.endswith(accepted.json()["id"])
    assert accepted.json()["state"] in ("queued", "running")
    assert accepted.json()["schedule_id"] is None and accepted.json()["finished_at"] is None

    seen = await follow(client, location, admin, until=("succeeded", "failed", "cancelled"))
    done = seen[-1]
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 1 and done["error"] is None
    started, finished = (datetime.fromisoformat(done[k]) for k in ("started_at", "finished_at"))
    assert datetime.fromisoformat(done["created_at"]) <= started <= finished
    progress = done["progress"]
    assert progress["stage"] == "done"
    assert 0 < progress["elapsed_seconds"] <= (finished - started).total_seconds() + 0.01
    draft = (await client.get(url, headers=admin)).json()["draft"]
    assert done["schedule_id"] == draft["id"] and done["schedule_url"] == url
    assert progress["weight"] == draft["total_weight"] > 0
    assert progress["weight_bound"] == draft["weight_bound"]
    assert progress["gap"] == draft["gap"]
    assert progress["breaks"] == draft["objective"]["breaks"]

    async with committed_app.state.sessionmaker() as session:
        heard = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "schedule.built"))
        ).all()
    payloads = [e.payload for e in heard if e.payload["build_id"] == done["id"]]
    assert payloads == [
        {
            "event_id": event_id,
            "build_id": done["id"],
            "schedule_id": draft["id"],
            "status": draft["status"],
            "meetings": draft["meetings"],
            "total_weight": draft["total_weight"],
            "weight_bound": draft["weight_bound"],
        }
    ]

    # The simple path: wait for the draft.
    waited = await client.post(url, json={}, headers={**admin, **WAIT})
    assert waited.status_code == 201, waited.text
    assert waited.headers["location"] == url and BUILD_URL.match(waited.headers["content-location"])
    assert waited.json()["state"] == "draft" and waited.json()["id"] != draft["id"]
    assert waited.headers["etag"] == f'"{waited.json()["id"]}"'
    await client.delete(f"/v1/events/{event_id}", headers={**admin, "If-Match": '"1"'})


async def test_a_build_gives_the_schedule_the_engine_gives_alone_on_the_same_input(
    committed_client: httpx.AsyncClient,
    committed_app: FastAPI,
    committed_key: KeyFactory,
    settings: Settings,
    build_worker: None,
) -> None:
    # An event whose 2 s limit, not a proof, ends the run (status feasible): on the wall clock
    # the job beside this test's loop and the engine alone would stop at different schedules.
    admin = await committed_key("admin")
    async with committed_app.state.sessionmaker.begin() as session:
        event_id = await insert_bench_event(session, committees=50, orgs=90, slots=10, seed=2)
    url = f"/v1/events/{event_id}/schedule"
    accepted = await committed_client.post(url, json={"time_limit_seconds": 2}, headers=admin)
    assert accepted.status_code == 202, accepted.text
    seen = await follow(
        committed_client, accepted.headers["location"], admin, until=builds.FINISHED
    )
    assert seen[-1]["state"] == "succeeded", seen[-1]
    draft = (await committed_client.get(url, headers=admin)).json()["draft"]
    async with committed_app.state.sessionmaker() as session:
        event = await session.get(Event, event_id)
        assert event is not None
        given = await schedules.engine_input(
            session, event=event, settings=settings, forest=await load_taxonomy(session)
        )
        draft_id = uuid.UUID(draft["id"])
        rows = await session.scalars(select(Meeting).where(Meeting.schedule_id == draft_id))
        built = {schedules.placement_of(m) for m in rows}
    alone = await asyncio.to_thread(
        schedules.run_engine, given, mode="rebuild", fairness=None, time_limit=2
    )
    assert alone.status == draft["status"] == "feasible" and alone.repeatable
    assert alone.objective is not None
    # A build slower than the wall-clock guard (2 x 2 s + 5 s) may stop elsewhere: say so.
    guard = clock.WALL_FACTOR * 2 + clock.WALL_SLACK
    assert built == set(alone.meetings), f"the build ran {draft['seconds']} s (guard {guard} s)"
    assert (draft["total_weight"], draft["weight_bound"]) == (
        alone.objective.weight,
        alone.weight_bound,
    )
    assert draft["objective"]["breaks"] == alone.objective.breaks


async def test_one_build_of_an_event_at_a_time_and_a_cancel_stops_it_within_a_second(
    committed_client: httpx.AsyncClient,
    committed_app: FastAPI,
    committed_key: KeyFactory,
    build_worker: None,
) -> None:
    admin = await committed_key("admin")
    client = committed_client
    async with committed_app.state.sessionmaker.begin() as session:
        event_id = await insert_bench_event(session, committees=30, orgs=120, slots=10)
    url = f"/v1/events/{event_id}/schedule"
    accepted = await client.post(url, json={"time_limit_seconds": 120}, headers=admin)
    assert accepted.status_code == 202, accepted.text
    build = accepted.json()

    refused = await client.post(url, json={}, headers={**admin, **WAIT})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "build_in_progress"
    assert refused.json()["build_id"] == build["id"]

    location = accepted.headers["location"]
    # Running, with the engine's first figures in: a browser shows them.
    while True:
        current = (await follow(client, location, admin, until=("running",)))[-1]
        if current["progress"]["weight"] is not None:
            break
        await asyncio.sleep(0.1)
    assert current["progress"]["stage"] not in (None, "reading", "done")

    asked = time.monotonic()
    cancelled = await client.post(f"{location}:cancel", headers=admin)
    took = time.monotonic() - asked
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled" and took < 1.5, (cancelled.json(), took)
    assert cancelled.json()["finished_at"] is not None
    # The engine's process is gone (it ran in this process's pool or in-process worker).
    assert not [p for p in multiprocessing.active_children() if p.name == f"build-{build['id']}"]
    assert (await client.get(url, headers=admin)).json()["draft"] is None
    again = await client.post(f"{location}:cancel", headers=admin)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"
    # With it cancelled, the event can be built again.
    next_one = await client.post(url, json={"time_limit_seconds": 120}, headers=admin)
    assert next_one.status_code == 202, next_one.text
    assert (await client.post(f"{next_one.headers['location']}:cancel", headers=admin)).json()[
        "state"
    ] == "cancelled"
    await client.delete(f"/v1/events/{event_id}", headers={**admin, "If-Match": '"1"'})


def start_worker(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`python -m service worker` on the test's database, as its own process."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "service", "worker"],
            cwd=REPO,
            env={**os.environ, "DATABASE_URL": settings.database_url, "LOG_LEVEL": "INFO", **env},
            stdout=subprocess.DEVNULL,
            stderr=output,
            start_new_session=True,
        )


async def build_row(engine: AsyncEngine, build_id: Any) -> ScheduleBuild:
    async with create_sessionmaker(engine)() as session:
        build = await session.get(ScheduleBuild, build_id)
    assert build is not None
    return build


async def running_with_a_figure(
    engine: AsyncEngine, build_id: Any, worker: subprocess.Popen[bytes]
) -> None:
    """Wait (90 s at most) until the build runs and has its first weight, the worker alive."""
    deadline = time.monotonic() + 90
    while True:
        row = await build_row(engine, build_id)
        if row.state == "running" and row.progress.get("weight") is not None:
            return
        assert time.monotonic() < deadline and worker.poll() is None, row.state
        await asyncio.sleep(0.1)  # polling the worker's progress row


@pytest.fixture
async def rows_removed(engine: AsyncEngine) -> Any:
    """What the test wrote outside any app, deleted afterwards (rows created since it began)."""
    started = utcnow()
    yield
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if "created_at" in table.c:
                await connection.execute(delete(table).where(table.c.created_at >= started))


async def submit_for_a_worker(
    settings: Settings, engine: AsyncEngine, *, time_limit: int, **shape: int
) -> ScheduleBuild:
    """A build of a generated event (bench/schedule_load's shape) queued for a worker process,
    as the API would queue it."""
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        event_id = await insert_bench_event(session, **shape)
    async with sessionmaker.begin() as session:
        event = await session.get(Event, event_id)
        assert event is not None
        build = await builds.submit(
            session, event=event, mode="rebuild", fairness=None, time_limit=time_limit
        )
        if queue.uses_queue(settings):
            await queue.enqueue(session, build)
    return build


async def test_a_worker_killed_in_the_middle_of_a_build_loses_nothing(
    settings: Settings, engine: AsyncEngine, rows_removed: None, tmp_path: Path
) -> None:
    lease = 3.0
    env = {"BUILD_LEASE_SECONDS": str(lease), "BUILD_MAX_ATTEMPTS": "2"}
    build = await submit_for_a_worker(
        settings, engine, time_limit=6, committees=30, orgs=120, slots=10, seed=2
    )

    first = start_worker(settings, tmp_path / "first.log", **env)
    try:
        await running_with_a_figure(engine, build.id, first)
        os.killpg(first.pid, signal.SIGKILL)  # the worker, its forkserver and the engine
        killed = time.monotonic()
        first.wait()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    # Nobody beats for it now: running, with a heartbeat that only ages.
    row = await build_row(engine, build.id)
    assert row.state == "running" and row.attempts == 1
    second = start_worker(settings, tmp_path / "second.log", **env)
    try:
        requeued_after = None
        deadline = time.monotonic() + 120
        while True:
            row = await build_row(engine, build.id)
            if requeued_after is None and (row.state != "running" or row.attempts == 2):
                requeued_after = time.monotonic() - killed
            if row.state in builds.FINISHED:
                break
            assert time.monotonic() < deadline, (row.state, row.attempts)
            await asyncio.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait()
    logs = (tmp_path / "second.log").read_text()
    assert row.state == "succeeded", (row.state, row.error, logs[-3000:])
    assert row.attempts == 2 and row.schedule_id is not None
    assert row.error is not None and "was lost: no heartbeat" in row.error
    # Taken up again within the lease and a sweep (a third of it), and a worker's start.
    assert requeued_after is not None and requeued_after < lease * 4 / 3 + 15, requeued_after
    print(f"killed worker's build taken up again after {requeued_after:.1f} s")


def proc_stat(pid: int | str, thread: str | None = None) -> list[str]:
    """/proc/PID/stat (or a thread's) from its third field on: [0] state, [1] ppid, [3] session,
    [16] nice."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    return Path(path).read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int(proc_stat(entry.name)[1]) == pid:
                    found.append(int(entry.name))
    return found


def engine_and_forks(worker: int) -> list[int]:
    """The worker's engine processes (children of its fork server) and what they forked."""
    servers = [
        p for p in children(worker) if b"forkserver" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    assert len(servers) == 1, servers
    found = children(servers[0])
    assert len(found) <= 1, found
    for pid in found:
        found += children(pid)
    return found


def scheduling(pid: int) -> tuple[int, str | None, list[int]]:
    """A process's session, its autogroup with its niceness ("/autogroup-7 nice 10", where the
    kernel has them) and each of its threads' niceness."""
    try:
        group: str | None = Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError:
        group = None
    nices = []
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            nices.append(int(proc_stat(pid, thread)[16]))
    return int(proc_stat(pid)[3]), group, nices


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
async def test_a_build_worker_runs_the_engine_niced_in_a_scheduling_group_of_its_own(
    settings: Settings, engine: AsyncEngine, rows_removed: None, tmp_path: Path
) -> None:
    """The engine, each of its threads and whatever it forks run at BUILD_NICE, and so does
    their scheduling group (with autogroups, a session's), which is not the worker's."""
    # Large enough not to be proven optimal before it has been looked at.
    build = await submit_for_a_worker(
        settings, engine, time_limit=60, committees=100, orgs=300, slots=12
    )
    worker = start_worker(settings, tmp_path / "worker.log", BUILD_NICE="7")
    try:
        deadline = time.monotonic() + 90  # for the engine's threads too, below
        await running_with_a_figure(engine, build.id, worker)
        expected = max(7, os.getpriority(os.PRIO_PROCESS, 0))
        # The worker itself is not niced: it answers heartbeats and cancels at once.
        assert int(proc_stat(worker.pid)[16]) == os.getpriority(os.PRIO_PROCESS, 0)
        worker_group = scheduling(worker.pid)[1]
        # Looked at until the engine runs more than its main thread (a CP-SAT solve's workers;
        # between solves it searches alone).
        most = 0
        while most < 2 and time.monotonic() < deadline:
            threads = 0
            found = engine_and_forks(worker.pid)
            for pid in found:
                sid, group, nices = scheduling(pid)
                assert set(nices) == {expected}, (pid, nices)
                # The engine's session, and with autogroups its group, niced as a whole.
                assert sid == found[0], (pid, sid)
                if group is not None:
                    assert group.endswith(f" nice {expected}"), (pid, group)
                    assert worker_group is None or group.split()[0] != worker_group.split()[0]
                threads += len(nices)
            most = max(most, threads)
            await asyncio.sleep(0.05)
        assert most >= 2, "the engine never ran a thread or process besides its main thread"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


async def test_the_command_line_builds_with_a_progress_bar(
    settings: Settings, engine: AsyncEngine, rows_removed: None
) -> None:
    async with create_sessionmaker(engine).begin() as session:
        event_id = await insert_bench_event(session, committees=6, orgs=20, slots=6)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service", "schedule", str(event_id), "--time-limit", "5"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # tqdm draws on stderr: the bar carries the best weight and its bound as they move.
    bar = done.stderr.replace("\r", "\n")
    assert re.search(r"building: .*weight \d+ ≤ \d+ \(gap [\d.]+%\), breaks \d+ ≥ \d+", bar), bar
    async with create_sessionmaker(engine)() as session:
        build = await session.scalar(
            select(ScheduleBuild).where(ScheduleBuild.event_id == event_id)
        )
    assert build is not None and build.state == "succeeded" and build.schedule_id is not None
    assert f"draft {build.schedule_id}: " in done.stdout
    assert f"weight {build.progress['weight']} of at most {build.progress['weight_bound']}" in (
        done.stdout
    )
