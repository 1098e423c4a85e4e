"""Reads stay fast while a large schedule builds: the API beside its build worker.

    .venv/bin/python -m bench.schedule_load [--size 300x2000x16] [--rate 20] [--seconds 20]
        [--time-limit 60] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

A scratch PostgreSQL database beside the one named (dropped afterwards) gets the demo and one
random event shaped like bench/schedule.py's (300 committees, 2,000 organizations, 16 slots by
default), written as rows. `serve --workers 2` and one `python -m service worker` serve it, as
compose.yaml does. Directory reads (`GET /v1/organizations`, `/v1/committees`, a page of 20) go
at a steady rate, open-loop (each request at its time, whatever the answers before), for a
phase before the build and a phase while it runs; the build is submitted through the API and
followed through its Location. Printed: each phase's p50/p99/max and errors, how long the
submission took, how the build's progress moved, and its result beside a synchronous run of
the engine on the same input with the same time limit.

The comparison (exit status 1 when anything differs). The engine spends its time limit as work,
not wall time (service/solver/clock.py), so the job in its worker beside a busy API and the run
here on a quieter machine must give the same schedule:
- each schedule obeys the hard rules, and its stored meetings give the weight and the breaks it
  reports (the job's draft as written in the database);
- the same meetings (pair, slot, table), levels, weight bound and breaks bound. IDENTICAL is
  printed when they are. Only a run the wall-clock guard cut (past twice the limit and 5 s,
  `repeatable` false) may differ; the comparison then says which.
"""

import argparse
import asyncio
import dataclasses
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bench.load import machine, prepare, scratch_database, serve_service
from bench.schedule import make_event
from service.badges import new_badge_code
from service.models import Committee, Event, Meeting, Organization, Participant, Preference
from service.solver.clock import WALL_FACTOR, WALL_SLACK
from service.solver.problem import Placement
from service.solver.rules import breaks_of, check_event

REPO = Path(__file__).resolve().parents[1]
LEVELS = ("required_missing", "shortfall", "weight", "breaks")
PORTS = range(8250, 8300)  # the ports this machine lets benchmarks listen on


async def insert_bench_event(
    session: AsyncSession, *, committees: int, orgs: int, slots: int, seed: int = 1
) -> uuid.UUID:
    """An event shaped like bench/schedule.py's random ones, as rows: parties without domains
    (score 0), each candidate pair a would-like mark and each required one a must-meet."""
    problem = make_event(committees=committees, orgs=orgs, slots=slots, seed=seed)
    tag = uuid.uuid4().hex[:8]
    event = Event(
        name_zh=f"基准 {tag}",
        venue="温州",
        date=datetime.date(2025, 10, 10),
        timezone="Asia/Shanghai",
        slots=[
            {
                "start": f"2025-10-10T{8 + i // 3:02d}:{(i % 3) * 20:02d}:00+08:00",
                "end": f"2025-10-10T{8 + i // 3:02d}:{(i % 3) * 20 + 15:02d}:00+08:00",
            }
            for i in range(slots)
        ],
        tables=committees,
        state="open",
        # Its parties have no domains (every pair scores 0) and meet by would-like marks: with
        # the default floor only the must-meets would be candidates, and the event would be
        # no longer the benchmark's shape.
        min_meeting_score=0,
    )
    session.add(event)
    ids: dict[str, uuid.UUID] = {}
    for person in problem.participants:
        if person.kind == "committee":
            party: Committee | Organization = Committee(
                designation=f"BENCH/{tag}/{person.id}",
                level="national",
                name_zh=f"委员会 {person.id}",
                name_en=f"Committee {person.id}",
            )
        else:
            party = Organization(kind="enterprise", name_zh=f"企业 {tag} {person.id}")
        session.add(party)
        await session.flush()
        participant = Participant(
            event_id=event.id,
            committee_id=party.id if isinstance(party, Committee) else None,
            organization_id=party.id if isinstance(party, Organization) else None,
            badge_code=new_badge_code(),
            unavailable_slots=sorted(person.unavailable),
            min_meetings=person.min_meetings,
            max_meetings=person.max_meetings or slots,
            table_number=person.table,
        )
        session.add(participant)
        await session.flush()
        ids[person.id] = participant.id
    for candidate in problem.candidates:
        session.add(
            Preference(
                event_id=event.id,
                participant_id=ids[candidate.b],
                counterpart_id=ids[candidate.a],
                kind="must_meet" if candidate.required else "would_like",
            )
        )
    await session.flush()
    return event.id


async def _load_event(database_url: str, size: tuple[int, int, int]) -> uuid.UUID:
    from service.config import Settings
    from service.db import create_engine, create_sessionmaker

    engine = create_engine(Settings(database_url=database_url))
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await insert_bench_event(
                session, committees=size[0], orgs=size[1], slots=size[2]
            )
    finally:
        await engine.dispose()


async def _engine_alone(
    database_url: str, event_id: uuid.UUID, time_limit: float
) -> tuple[Any, Any, float]:
    """The synchronous engine on the same input, in this process: its input, its answer, its
    seconds."""
    from service.config import Settings
    from service.db import create_engine, create_sessionmaker
    from service.directory.taxonomy import load_taxonomy
    from service.schedules import service as schedules

    settings = Settings(database_url=database_url)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            event = await session.get(Event, event_id)
            assert event is not None
            given = await schedules.engine_input(
                session, event=event, settings=settings, forest=await load_taxonomy(session)
            )
            await session.rollback()
    finally:
        await engine.dispose()
    started = time.monotonic()
    result = schedules.run_engine(
        given,
        mode="rebuild",
        fairness=None,
        time_limit=time_limit,
    )
    return given, result, time.monotonic() - started


async def _draft_meetings(database_url: str, schedule_id: str) -> list[Placement]:
    """The job's draft as written in the database."""
    from sqlalchemy import select

    from service.config import Settings
    from service.db import create_engine, create_sessionmaker
    from service.schedules.service import placement_of

    engine = create_engine(Settings(database_url=database_url))
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (
                await session.scalars(
                    select(Meeting).where(Meeting.schedule_id == uuid.UUID(schedule_id))
                )
            ).all()
    finally:
        await engine.dispose()
    return [placement_of(m) for m in rows]


@dataclass(frozen=True)
class Run:
    """One run's answer, as far as the comparison reads it."""

    name: str
    meetings: list[Placement]
    levels: dict[str, int]  # required_missing, shortfall, weight, breaks as reported
    weight_bound: int | None
    breaks_bound: int | None
    repeatable: bool


def compare(given: Any, job: Run, alone: Run) -> list[str]:
    """What differs between the job's schedule and the synchronous run's."""
    wrong: list[str] = []
    for run in (job, alone):
        for broken in check_event(event=given.problem, meetings=run.meetings)[:3]:
            wrong.append(f"{run.name}: breaks a hard rule: {broken}")
        weight = sum(given.weights.get((m.a, m.b), 0) for m in run.meetings)
        busy: dict[str, list[int]] = {}
        for m in run.meetings:
            busy.setdefault(m.a, []).append(m.slot)
            busy.setdefault(m.b, []).append(m.slot)
        breaks = sum(breaks_of(slots) for slots in busy.values())
        if (weight, breaks) != (run.levels["weight"], run.levels["breaks"]):
            wrong.append(
                f"{run.name}: its meetings weigh {weight} with {breaks} breaks, it reports "
                f"{run.levels['weight']} and {run.levels['breaks']}"
            )
    meetings = [set(run.meetings) for run in (job, alone)]
    if meetings[0] != meetings[1]:
        wrong.append(
            f"meetings: {len(meetings[0] - meetings[1])} only in the job's, "
            f"{len(meetings[1] - meetings[0])} only in the synchronous run's"
        )
    figures = [
        ({k: run.levels[k] for k in LEVELS}, run.weight_bound, run.breaks_bound)
        for run in (job, alone)
    ]
    if figures[0] != figures[1]:
        wrong.append(f"levels and bounds: job {figures[0]}, alone {figures[1]}")
    if wrong and not (job.repeatable and alone.repeatable):
        wrong.append(
            f"the wall-clock guard cut a run (repeatable: job {job.repeatable}, alone "
            f"{alone.repeatable}), so it may differ"
        )
    return wrong


def free_port() -> int:
    import socket

    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8250-8299")


async def reads(
    client: httpx.AsyncClient, headers: dict[str, str], *, rate: float, seconds: float
) -> tuple[list[float], int]:
    """Directory reads at a steady rate (open loop); latencies in ms and the error count."""
    latencies: list[float] = []
    errors = 0

    async def one(path: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            answer = await client.get(path, params={"limit": 20}, headers=headers)
            if answer.status_code != 200:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)

    tasks = []
    begin = time.monotonic()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
        path = "/v1/organizations" if i % 2 else "/v1/committees"
        tasks.append(asyncio.create_task(one(path)))
    await asyncio.gather(*tasks)
    return latencies, errors


def figures(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(ordered)} reads, p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, "
        f"max {ordered[-1]:.1f} ms"
    )


async def drive(base: str, admin: dict[str, str], event_id: uuid.UUID, args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await reads(client, admin, rate=args.rate, seconds=3)  # warm up
        out["before"] = await reads(client, admin, rate=args.rate, seconds=args.seconds)
        started = time.perf_counter()
        answer = await client.post(
            f"/v1/events/{event_id}/schedule",
            json={"time_limit_seconds": args.time_limit},
            headers=admin,
        )
        out["submit_ms"] = (time.perf_counter() - started) * 1000
        assert answer.status_code == 202, answer.text
        location = answer.headers["location"]
        trace: list[dict[str, Any]] = []
        taken = asyncio.Event()

        async def follow() -> dict[str, Any]:
            while True:
                build = (await client.get(location, headers=admin)).json()
                if build["state"] != "queued":
                    taken.set()
                moved = {k: v for k, v in build["progress"].items() if k != "elapsed_seconds"}
                if not trace or moved != {
                    k: v for k, v in trace[-1]["progress"].items() if k != "elapsed_seconds"
                }:
                    trace.append(build)
                if build["state"] in ("succeeded", "failed", "cancelled"):
                    return build
                await asyncio.sleep(0.5)

        following = asyncio.create_task(follow())
        # Reads while the build runs: from its start (the worker has it) for the phase's length.
        await taken.wait()
        out["during"] = await reads(client, admin, rate=args.rate, seconds=args.seconds)
        out["still_running"] = not following.done()
        out["build"] = await following
        out["trace"] = trace
        draft = (await client.get(f"/v1/events/{event_id}/schedule", headers=admin)).json()
        out["draft"] = draft["draft"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="300x2000x16")
    parser.add_argument("--rate", type=float, default=20.0, help="reads a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase's length")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split("x"))
    assert len(size) == 3
    print(f"machine: {machine()}")
    log = Path(tempfile.mkstemp(prefix="smk-schedule-load-", suffix=".log")[1])
    with scratch_database(args.database_url) as database_url:
        admin = prepare(database_url)
        started = time.monotonic()
        event_id = asyncio.run(_load_event(database_url, size))  # type: ignore[arg-type]
        print(f"event {args.size} written in {time.monotonic() - started:.1f} s")
        env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
        with log.open("ab") as output:
            worker = subprocess.Popen(
                [sys.executable, "-m", "service", "worker"],
                cwd=REPO,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            port = free_port()
            with serve_service(database_url, workers=2, port=port, log=log) as base:
                out = asyncio.run(drive(base, admin, event_id, args))
        finally:
            worker.terminate()
            worker.wait(60)
        draft = out["draft"] or {}
        drafted = asyncio.run(_draft_meetings(database_url, draft["id"])) if draft else []
        given, alone, alone_s = asyncio.run(_engine_alone(database_url, event_id, args.time_limit))
    before, before_errors = out["before"]
    during, during_errors = out["during"]
    print(f"before the build: {figures(before)}, {before_errors} errors")
    print(f"during the build: {figures(during)}, {during_errors} errors")
    ratio = sorted(during)[int(len(during) * 0.99)] / sorted(before)[int(len(before) * 0.99)]
    print(f"p99 during / before: {ratio:.2f} (goal at most 1.5)")
    print(f"submission answered in {out['submit_ms']:.0f} ms; the build was still running at the")
    print(f"end of the reads: {out['still_running']}")
    for build in out["trace"]:
        p = build["progress"]
        print(
            f"  {build['state']:9} {p['elapsed_seconds']:6.1f} s  {p['stage'] or '-':9} "
            f"weight {p['weight']} ≤ {p['weight_bound']} (gap {p['gap']}), "
            f"breaks {p['breaks']} ≥ {p['breaks_bound']}"
        )
    final = out["build"]["progress"]
    print(
        f"build: {out['build']['state']}, {draft.get('status')}, {draft.get('meetings')} meetings, "
        f"weight {draft.get('total_weight')} ≤ {draft.get('weight_bound')}, breaks "
        f"{final['breaks']} ≥ {final['breaks_bound']}, engine {draft.get('seconds')} s"
    )
    objective = alone.objective
    print(
        f"engine alone, same input: {alone.status}, {len(alone.meetings)} meetings, weight "
        f"{objective.weight if objective else None} ≤ {alone.weight_bound}, breaks "
        f"{objective.breaks if objective else None} ≥ {alone.breaks_bound}, {alone_s:.1f} s"
    )
    print(f"server log: {log}")
    if not draft or objective is None:
        print(f"DIFFERENT: a schedule from the job {bool(draft)}, alone {objective is not None}")
        raise SystemExit(1)
    job = Run(
        name="job",
        meetings=drafted,
        levels={**draft["objective"], "weight": draft["total_weight"]},
        weight_bound=draft["weight_bound"],
        breaks_bound=final["breaks_bound"],
        # The draft does not carry the flag; its engine seconds show a cut.
        repeatable=draft["seconds"] < WALL_FACTOR * args.time_limit + WALL_SLACK,
    )
    engine_alone = Run(
        name="alone",
        meetings=list(alone.meetings),
        levels=dataclasses.asdict(objective),
        weight_bound=alone.weight_bound,
        breaks_bound=alone.breaks_bound,
        repeatable=alone.repeatable,
    )
    wrong = compare(given, job, engine_alone)
    if wrong:
        print("DIFFERENT:")
        for line in wrong:
            print(f"  {line}")
        raise SystemExit(1)
    print("IDENTICAL: the same meetings (pair, slot, table), levels and bounds")


if __name__ == "__main__":
    main()
