"""Load on the real server: check-in bursts, partners' directory reads, recommendations.

    .venv/bin/python -m bench.load [--workers 2] [--users 8] [--seconds 20]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

It makes a scratch database beside the one named (dropped afterwards), migrates it, loads the
demo and copies the demo event until there are enough fresh badges for the burst, then serves
it with `python -m service serve --workers N` and drives it with locust (headless, fixed run
time) from a separate process on loopback. Beside it, with the same worker count, it serves a
minimal FastAPI app whose one endpoint does a single INSERT through asyncpg into a scratch table
of the same database: the ceiling a check-in is held to; and the service's own app with one
more route that does that INSERT behind the kiosk's key, the request's transaction and the
service's middleware: the floor of any write of the service, which splits the check-in's
distance from the ceiling into what every request pays and what the check-in adds. The three
are driven in turn, in `--rounds` rounds of a phase's length each, as are the committee GET and
the bare route it is held to: the machine is shared and its load drifts, and one phase after
the other laid the drift on one side of the ratio (a ceiling of 950/s in one run and 2,289/s in
the next, and 37% and 51% for the committee, minutes apart on 2026-12-07).

Last, served alone, the write set: the service's app with a route that writes a first
check-in's rows (scan, check-in, outbox event) in one statement through asyncpg, reading only
the key and the participant's id and rendering nothing, on badges of its own: what no check-in
can beat whatever its code, as long as it keeps what the door must keep.

Each phase also says where the machine's CPU went, in ms per request answered: the server's
processes, PostgreSQL's for the bench's database (its backends and the cluster's background
processes), Redis's (the whole server) and the load generator's own while it drove the load (its
start-up left out). On a machine whose cores are all busy, a closed loop's throughput follows
that sum.

Every phase is closed-loop: each simulated client sends its next request as soon as it has the
answer to the last one, so throughput is the most the server gives to that many clients and the
latencies are those at that rate. The load generator shares the machine's cores with the server
and PostgreSQL; docs/benchmarks.md says what that means for the figures.

This file is also the locustfile: locust loads it by path, and the user classes at the end are
defined only then.
"""

# No `from __future__ import annotations`: FastAPI reads floor_app's route annotations, which
# name classes imported inside the function, so they must be objects, not strings.
import argparse
import asyncio
import csv
import datetime
import json
import os
import platform
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
WENZHOU = "浙江省标准稳链提升暨标技委建设工作推进会 · 技术委员会对接活动"


# --- the machine, the database, the servers -----------------------------------------------------


def machine() -> str:
    """nproc, CPU model, Python and PostgreSQL versions and the date, for the record."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}"
    )


def free_port() -> int:
    """A free port on loopback: any, or one of BENCH_PORTS (`8450-8499`) where that is set."""
    low, _, high = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high) + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise SystemExit(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new database on the server of server_url, dropped afterwards."""
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:10]}"

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(plain_dsn(server_url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE "{name}" WITH (FORCE)'))


def cli(*args: str, database_url: str) -> str:
    """`python -m service ...` on the bench database; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def prepare(database_url: str) -> dict[str, str]:
    """Migrate, load the demo, and return an admin's Authorization header."""
    cli("migrate", database_url=database_url)
    cli("load-demo", database_url=database_url)
    secret = cli("create-api-key", "--role", "admin", "--name", "bench", database_url=database_url)
    return {"Authorization": f"Bearer {secret.strip().splitlines()[-1]}"}


# The process serving each base URL, whose CPU (its workers' included) a phase accounts for.
SERVER_PIDS: dict[str, int] = {}


def cpu_seconds(server_pid: int, dsn: str) -> dict[str, dict[int, float]]:
    """CPU seconds (user and system) so far, by process, of the server's process tree, the
    PostgreSQL processes serving the bench's database (its backends and the cluster's own
    background processes, not other databases' backends) and Redis (the whole server)."""
    import psutil
    import psycopg

    def spent(pids: Iterable[int]) -> dict[int, float]:
        figures = {}
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:  # ended between listing and reading
                continue
            figures[pid] = float(times.user + times.system)
        return figures

    server = psutil.Process(server_pid)
    with psycopg.connect(dsn) as connection:
        backends = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() OR datname IS "
            "NULL) AND pid <> pg_backend_pid()"
        ).fetchall()
    redis = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"]
    return {
        "server": spent([server_pid, *(c.pid for c in server.children(recursive=True))]),
        "PostgreSQL": spent(pid for (pid,) in backends),
        "Redis": spent(redis),
    }


def cpu_between(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """Each group's CPU between two readings: of the processes alive at the second, what they
    spent since the first (all of it for a process started between them)."""
    return {
        group: sum(t - before[group].get(pid, 0.0) for pid, t in after[group].items())
        for group in after
    }


@contextmanager
def serving(command: list[str], *, env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """A server process, awaited ready on /readyz (or /healthz), stopped with SIGTERM after."""
    import httpx

    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS[base] = process.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited; see {log}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready in 60 s; see {log}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def serve_service(database_url: str, *, workers: int, port: int, log: Path, **settings: str) -> Any:
    command = [sys.executable, "-m", "service", "serve", "--workers", str(workers)]
    # The demo event is a day of 2025, scanned live here: the door's grace is widened past it.
    env = {"DATABASE_URL": database_url, "CHECKIN_GRACE_HOURS": "1000000", **settings}
    return serving([*command, "--port", str(port)], env=env, port=port, log=log)


def serve_factory(factory: str, *, workers: int, port: int, log: Path, env: dict[str, str]) -> Any:
    """uvicorn serving one of this file's app factories (`ceiling_app`, `floor_app`, ...)."""
    command = [sys.executable, "-m", "uvicorn", f"bench.load:{factory}", "--factory"]
    command += ["--workers", str(workers), "--port", str(port), "--log-level", "warning"]
    return serving(command, env=env, port=port, log=log)


def minimal_pool_app() -> tuple[Any, dict[str, Any]]:
    """A bare FastAPI app with an asyncpg pool on the bench database (`state["pool"]`) and a
    `/readyz`: what the ceiling and the bare committee route are built on."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import asyncpg
    from fastapi import FastAPI

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            os.environ["CEILING_DSN"], min_size=2, max_size=10
        )
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app, state


def ceiling_app() -> Any:
    """One endpoint, one INSERT through an asyncpg pool: what a check-in cannot beat."""
    app, state = minimal_pool_app()

    @app.post("/checkins", status_code=201)
    async def insert(body: dict[str, str]) -> dict[str, Any]:
        row = await state["pool"].fetchrow(
            "INSERT INTO bench_ceiling (badge_code, nonce) VALUES ($1, $2) "
            "RETURNING id, checked_in_at",
            body["badge_code"],
            body["nonce"],
        )
        return {"id": row["id"], "checked_in_at": row["checked_in_at"].isoformat()}

    return app


def floor_app() -> Any:
    """The service's own app with one more route doing the ceiling's INSERT as a check-in would.

    The route takes the kiosk's key (its role, revocation and rate-limit count), the request's
    transaction and every middleware of the service, and does nothing of a check-in's own: what
    any write of this service costs, which no check-in can beat either.
    """
    from sqlalchemy import text

    from service.app import create_app
    from service.auth.dependencies import KioskKey
    from service.checkins.schemas import CheckInIn
    from service.db import SessionDep

    app = create_app()
    insert = text(
        "INSERT INTO bench_ceiling (badge_code, nonce) VALUES (:badge_code, :nonce) "
        "RETURNING id, checked_in_at"
    )

    @app.post("/v1/events/{event_id}/floor-checkins", status_code=201)
    async def floor(
        event_id: uuid.UUID, body: CheckInIn, principal: KioskKey, session: SessionDep
    ) -> dict[str, Any]:
        row = (
            await session.execute(insert, {"badge_code": body.badge_code, "nonce": body.nonce})
        ).one()
        return {"id": row.id, "checked_in_at": row.checked_in_at.isoformat()}

    # Tried first, as the check-in's router is in the service (routes are matched in turn, about
    # 2 µs each): added last, it paid for matching every other route, which no check-in does.
    app.router.routes.insert(0, app.router.routes.pop())
    return app


# A first check-in's rows, in one statement: the scan kept for replays, the check-in, and the
# outbox event partners hear of (its payload without the party). It reads only what those writes
# need, the participant's id by its badge, and renders nothing; the kiosk's key is known to the
# process (as the service's known keys are) and its rate limit counted in memory. Only a first
# check-in is modelled: a repeat writes a scan with another outcome, a repeated nonce nothing.
WRITE_SET = """
WITH person AS (
    SELECT pe.id, pe.participant_id FROM people pe
    JOIN participants p ON p.id = pe.participant_id
    WHERE p.event_id = $2 AND pe.badge_code = $3
), scan AS (
    INSERT INTO scans (id, event_id, nonce, badge_code, participant_id, person_id, kiosk_key_id,
                       kiosk_name, scanned_at, outcome, created_at)
    SELECT gen_random_uuid(), $2, $4, $3, participant_id, id, $1, 'bench', now(), 'checked_in',
           now()
    FROM person
    ON CONFLICT (kiosk_key_id, nonce) DO NOTHING RETURNING id
), checkin AS (
    INSERT INTO checkins (id, event_id, participant_id, person_id, checked_in_at, kiosk_key_id,
                          created_at)
    SELECT gen_random_uuid(), $2, participant_id, id, now(), $1, now()
    FROM person WHERE EXISTS (SELECT FROM scan)
    ON CONFLICT (person_id) DO NOTHING RETURNING participant_id, checked_in_at
), outbox AS (
    INSERT INTO outbox_events (id, type, payload, created_at)
    SELECT gen_random_uuid(), 'checkin.created',
           json_build_object('event_id', $2, 'participant_id', participant_id,
                             'checked_in_at', checked_in_at),
           now()
    FROM checkin
)
SELECT (SELECT participant_id FROM person) AS participant,
       (SELECT checked_in_at FROM checkin) AS at
"""


def write_set_app() -> Any:
    """The service's app with one more route, first in line, writing a check-in's rows at once.

    The route runs WRITE_SET through an asyncpg pool like the ceiling's: a first check-in's four
    row writes in one round trip, behind the service's middleware, with no SQLAlchemy, no
    dependency but the body and header, no role check and no answer to render. A check-in must
    also read the event, the participant's record, party and people and the published schedule,
    and render its answer, so no check-in of the service can beat this either; how far it is
    from the ceiling is the price of what the door must keep.
    """
    import asyncpg
    from fastapi import Header
    from fastapi.responses import JSONResponse

    from service.app import create_app
    from service.auth.service import hash_secret

    app = create_app()
    pools: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    admitted: dict[Any, int] = {}
    starting = asyncio.Lock()

    @app.post("/v1/events/{event_id}/write-set-checkins", status_code=201)
    async def write_set(
        event_id: uuid.UUID, body: dict[str, str], authorization: str = Header()
    ) -> JSONResponse:
        if "pool" not in pools:
            async with starting:
                if "pool" not in pools:
                    pools["pool"] = await asyncpg.create_pool(
                        os.environ["CEILING_DSN"], min_size=2, max_size=10
                    )
        secret_hash = hash_secret(authorization.removeprefix("Bearer "))
        key_id = keys.get(secret_hash)
        if key_id is None:
            key_id = await pools["pool"].fetchval(
                "SELECT id FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
                secret_hash,
            )
            if key_id is None:
                return JSONResponse({"detail": "unknown or revoked key"}, status_code=401)
            keys[secret_hash] = key_id
        admitted[key_id] = admitted.get(key_id, 0) + 1  # the rate limit, in memory
        row = await pools["pool"].fetchrow(
            WRITE_SET, key_id, event_id, body["badge_code"], body["nonce"]
        )
        if row["participant"] is None:
            # Counted as a failure by the kiosk: nothing of a check-in was written.
            return JSONResponse({"detail": "no participant has this badge"}, status_code=404)
        if row["at"] is None:
            return JSONResponse({"reason": "already_checked_in"}, status_code=200)
        return JSONResponse({"checked_in_at": row["at"].isoformat()}, status_code=201)

    # First in line: the router matches routes in order, and a check-in route placed first pays
    # the least routing.
    app.router.routes.insert(0, app.router.routes.pop())
    return app


# One committee as GET /v1/committees/{id} answers a partner that is not the committee itself
# (contact without email and phone), in one statement.
BARE_COMMITTEE = """
SELECT c.id, c.designation, c.level, c.name_zh, c.name_en, c.scope, c.secretariat,
       c.contact_name, c.contact_email, c.contact_phone, c.version, c.created_at, c.updated_at,
       coalesce(json_agg(json_build_object('domain', d.code, 'weight', cd.weight)
                         ORDER BY cd.position) FILTER (WHERE NOT cd.inferred), '[]') AS domains,
       coalesce(json_agg(json_build_object('domain', d.code, 'confidence', cd.weight,
                                           'inferred', true)
                         ORDER BY cd.position) FILTER (WHERE cd.inferred), '[]') AS inferred
FROM committees c
LEFT JOIN committee_domains cd ON cd.committee_id = c.id
LEFT JOIN domains d ON d.id = cd.domain_id
WHERE c.id = $1
GROUP BY c.id
"""


def bare_committee_app() -> Any:
    """A minimal FastAPI app answering GET /v1/committees/{id} with the service's JSON, read
    with asyncpg in one statement, without a key: what the service's read is held to."""
    from fastapi.responses import JSONResponse

    app, state = minimal_pool_app()

    def moment(value: datetime.datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    @app.get("/v1/committees/{committee_id}")
    async def committee(committee_id: uuid.UUID) -> JSONResponse:
        row = await state["pool"].fetchrow(BARE_COMMITTEE, committee_id)
        if row is None:
            return JSONResponse({"code": "not_found"}, status_code=404)
        has_contact = row["contact_name"] or row["contact_email"] or row["contact_phone"]
        return JSONResponse(
            {
                "id": str(row["id"]),
                "designation": row["designation"],
                "level": row["level"],
                "name_zh": row["name_zh"],
                "name_en": row["name_en"],
                "scope": row["scope"],
                "secretariat": row["secretariat"],
                "contact": {"name": row["contact_name"], "email": None, "phone": None}
                if has_contact
                else None,
                "domains": json.loads(row["domains"]),
                "inferred_domains": json.loads(row["inferred"]),
                "version": row["version"],
                "created_at": moment(row["created_at"]),
                "updated_at": moment(row["updated_at"]),
            },
            headers={"ETag": f'"{row["version"]}"'},
        )

    return app


# --- data for the load -------------------------------------------------------------------


async def publish_demo_schedule(database_url: str) -> int:
    """Build and publish the demo event's schedule, as the organisers do before the doors
    open; the number of its meetings."""
    from sqlalchemy import func, select

    from service.config import Settings
    from service.db import create_engine, create_sessionmaker
    from service.directory.taxonomy import load_taxonomy
    from service.models import Event, Meeting
    from service.schedules import service as schedules

    settings = Settings(database_url=database_url)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine).begin() as session:
            event = (await session.scalars(select(Event).where(Event.name_zh == WENZHOU))).one()
            built = await schedules.build(
                session,
                event=event,
                mode="rebuild",
                fairness=None,
                time_limit=5,
                settings=settings,
                forest=await load_taxonomy(session),
            )
            await schedules.publish(session, event=event)
            count = await session.scalar(
                select(func.count()).select_from(Meeting).where(Meeting.schedule_id == built.id)
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def copy_demo_event(database_url: str, copies: int) -> list[tuple[str, str]]:
    """Open copies of the demo event with all 57 parties each and its published schedule;
    (event id, badge code) of every participant with meetings, in every copy."""
    from sqlalchemy import insert, select

    from service.badges import new_badge_code
    from service.config import Settings
    from service.db import create_engine
    from service.models import Event, Meeting, Participant, Person, Schedule

    engine = create_engine(Settings(database_url=database_url))
    events, participants, people = Event.__table__, Participant.__table__, Person.__table__
    schedules, meetings = Schedule.__table__, Meeting.__table__
    badges = []
    try:
        async with engine.begin() as connection:
            demo = (
                (await connection.execute(select(events).where(events.c.name_zh == WENZHOU)))
                .mappings()
                .one()
            )
            parties = (
                (
                    await connection.execute(
                        select(participants).where(participants.c.event_id == demo["id"])
                    )
                )
                .mappings()
                .all()
            )
            persons = (
                (
                    await connection.execute(
                        select(people).where(
                            people.c.participant_id.in_([p["id"] for p in parties])
                        )
                    )
                )
                .mappings()
                .all()
            )
            schedule = (
                (
                    await connection.execute(
                        select(schedules).where(
                            schedules.c.event_id == demo["id"], schedules.c.state == "published"
                        )
                    )
                )
                .mappings()
                .one()
            )
            agenda = (
                (
                    await connection.execute(
                        select(meetings).where(meetings.c.schedule_id == schedule["id"])
                    )
                )
                .mappings()
                .all()
            )
            meeting_someone = {m["committee_participant_id"] for m in agenda} | {
                m["organization_participant_id"] for m in agenda
            }
            parties = [p for p in parties if p["id"] in meeting_someone] + [
                p for p in parties if p["id"] not in meeting_someone
            ]
            with_meetings = len([p for p in parties if p["id"] in meeting_someone])
            badges += [(str(demo["id"]), p["badge_code"]) for p in parties[:with_meetings]]
            for number in range(copies):
                event_id = uuid.uuid4()
                await connection.execute(
                    insert(events),
                    [{**demo, "id": event_id, "name_zh": f"{demo['name_zh']} #{number + 2}"}],
                )
                new_ids = {p["id"]: uuid.uuid4() for p in parties}
                rows = [
                    {
                        **p,
                        "id": new_ids[p["id"]],
                        "event_id": event_id,
                        "badge_code": new_badge_code(),
                    }
                    for p in parties
                ]
                await connection.execute(insert(participants), rows)
                # Every person has a badge of their own, unique across events; the party's is
                # its first person's.
                party_badge = {row["id"]: row["badge_code"] for row in rows}
                first_person: dict[Any, Any] = {}
                for person in sorted(persons, key=lambda q: q["position"]):
                    first_person.setdefault(person["participant_id"], person["id"])
                await connection.execute(
                    insert(people),
                    [
                        {
                            **person,
                            "id": uuid.uuid4(),
                            "participant_id": new_ids[person["participant_id"]],
                            "badge_code": party_badge[new_ids[person["participant_id"]]]
                            if first_person[person["participant_id"]] == person["id"]
                            else new_badge_code(),
                        }
                        for person in persons
                    ],
                )
                schedule_id = uuid.uuid4()
                await connection.execute(
                    insert(schedules), [{**schedule, "id": schedule_id, "event_id": event_id}]
                )
                await connection.execute(
                    insert(meetings),
                    [
                        {
                            **m,
                            "id": uuid.uuid4(),
                            "event_id": event_id,
                            "schedule_id": schedule_id,
                            "committee_participant_id": new_ids[m["committee_participant_id"]],
                            "organization_participant_id": new_ids[
                                m["organization_participant_id"]
                            ],
                        }
                        for m in agenda
                    ],
                )
                badges += [(str(event_id), row["badge_code"]) for row in rows[:with_meetings]]
            await connection.exec_driver_sql(
                "CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, badge_code text NOT NULL, "
                "nonce text NOT NULL UNIQUE, checked_in_at timestamptz NOT NULL DEFAULT now())"
            )
    finally:
        await engine.dispose()
    return badges


def make_keys(base: str, admin: dict[str, str], *, kiosks: int) -> dict[str, Any]:
    """Kiosk keys, one partner key per party, and the directory's ids."""
    import httpx

    with httpx.Client(base_url=base, headers=admin, timeout=30) as client:

        def create(body: dict[str, Any]) -> str:
            answer = client.post("/v1/api-keys", json=body)
            answer.raise_for_status()
            return str(answer.json()["secret"])

        committees = client.get("/v1/committees", params={"limit": 500}).json()["items"]
        organizations = client.get("/v1/organizations", params={"limit": 500}).json()["items"]
        return {
            "kiosk_keys": [create({"name": f"kiosk {i}", "role": "kiosk"}) for i in range(kiosks)],
            "partner_keys": [
                create({"name": f"partner {c['id']}", "role": "partner", "committee_id": c["id"]})
                for c in committees
            ]
            + [
                create(
                    {"name": f"partner {o['id']}", "role": "partner", "organization_id": o["id"]}
                )
                for o in organizations
            ],
            "committees": [c["id"] for c in committees],
            "organizations": [o["id"] for o in organizations],
            "queries": ["温州", "wenzhou", "智能", "标准化", "TC", "电气", "zj", "装备", "检测"],
        }


# --- running locust and reading its figures ------------------------------------------------


def run_locust(
    user_class: str,
    *,
    host: str,
    users: int,
    seconds: int,
    data: dict[str, Any],
    workdir: Path,
    dsn: str,
    extra_env: dict[str, str] | None = None,
) -> dict[str, dict[str, float]]:
    """Drive host with `users` locust users for `seconds`; per request name: count, rps, ..."""
    data_file = workdir / f"{user_class}.json"
    data_file.write_text(json.dumps(data))
    prefix = workdir / user_class
    command = [sys.executable, "-m", "locust", "-f", str(Path(__file__).resolve())]
    command += ["--headless", "--only-summary", "--reset-stats", "--loglevel", "ERROR"]
    command += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "10"]
    command += ["--host", host, "--csv", str(prefix), user_class]
    env = {**os.environ, "BENCH_DATA": str(data_file), **(extra_env or {})}
    cpu_file = workdir / f"{user_class}.cpu"
    cpu_file.unlink(missing_ok=True)
    env["BENCH_CPU"] = str(cpu_file)
    before = cpu_seconds(SERVER_PIDS[host], dsn)
    subprocess.run(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{user_class}.log").open("w"),
        check=False,
        timeout=seconds + 120,
    )
    spent = cpu_between(before, cpu_seconds(SERVER_PIDS[host], dsn))
    # Written by the locustfile: the generator's CPU while it drove the load, not its start-up.
    spent["locust"] = float(cpu_file.read_text())
    figures: dict[str, dict[str, float]] = {}
    with open(f"{prefix}_stats.csv", newline="") as table:
        for row in csv.DictReader(table):
            figures[row["Name"]] = {
                "count": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "median": float(row["50%"] or 0),
                "p99": float(row["99%"] or 0),
            }
    # The whole run's CPU, with the aggregate: the requests it was spent on.
    figures["Aggregated"].update({f"cpu {group}": value for group, value in spent.items()})
    return figures


def factory_phase(
    factory: str,
    user_class: str,
    title: str,
    *,
    env: dict[str, str],
    data_for: Callable[[str], dict[str, Any]],
    workers: int,
    **common: Any,
) -> dict[str, dict[str, float]]:
    """Serve one of this file's app factories, drive it with `user_class`, report the figures.

    `data_for(base_url)` gives the clients' data; it may call the server (to make keys).
    """
    with serve_factory(
        factory,
        workers=workers,
        port=free_port(),
        log=common["workdir"] / f"{factory}.log",
        env=env,
    ) as host:
        figures = run_locust(user_class, host=host, data=data_for(host), **common)
    report(title, figures)
    return figures


WARM_UP_SECONDS = 2


def alternate(
    sides: dict[str, tuple[str, str]],
    *,
    rounds: int,
    seconds: int,
    data: dict[str, Any],
    fresh_badges: dict[str, list[Any]] | None = None,
    **common: Any,
) -> dict[str, dict[str, dict[str, float]]]:
    """Drive each side (title: host and locust user class) in turn for `seconds / rounds`,
    `rounds` times over, and report each.

    Phases run one after another, so a drift in the shared machine's load would fall on one side
    of a ratio; alternating in short rounds lays it on both alike. Per side and request name:
    counts, errors and CPU summed, req/s the mean over the rounds (of equal length), the worst
    round's p99, the median round's median. A side named in `fresh_badges` scans that list on
    from where its last round stopped, so that no badge is scanned twice. Each side first has
    a warm-up round of `WARM_UP_SECONDS`, not reported.
    """
    share = max(1, seconds // rounds)
    runs: dict[str, list[dict[str, dict[str, float]]]] = {title: [] for title in sides}
    scanned = dict.fromkeys(fresh_badges or {}, 0)
    # Round 0 warms each side up and is not reported: a server's first requests prepare each
    # pooled connection's statements, and in a round of a few seconds they would be its p99.
    for number in range(rounds + 1):
        for title, (host, user_class) in sides.items():
            # Nonces are unique per key: each round's kiosks number theirs afresh.
            round_data = {**data, "round": number}
            if title in scanned:
                round_data["badges"] = (fresh_badges or {})[title][scanned[title] :]
            length = share if number else WARM_UP_SECONDS
            figures = run_locust(user_class, host=host, seconds=length, data=round_data, **common)
            if title in scanned:
                # Every request took a badge; one more a client, for a request cut off at the end.
                scanned[title] += int(figures["Aggregated"]["count"]) + common["users"]
            if number:
                runs[title].append(figures)
    merged: dict[str, dict[str, dict[str, float]]] = {}
    for title, figures_of_rounds in runs.items():
        names = {name for figures in figures_of_rounds for name in figures}
        merged[title] = {}
        for name in sorted(names):
            rows = [figures[name] for figures in figures_of_rounds if name in figures]
            merged[title][name] = {
                "count": sum(r["count"] for r in rows),
                "failures": sum(r["failures"] for r in rows),
                "rps": sum(r["rps"] for r in rows) / rounds,
                "median": statistics.median(r["median"] for r in rows),
                "p99": max(r["p99"] for r in rows),
            }
            for key in (k for k in rows[0] if k.startswith("cpu ")):
                merged[title][name][key] = sum(r[key] for r in rows)
        report(f"{title} ({rounds} rounds of {share} s, alternating)", merged[title])
    return merged


def report(title: str, figures: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'request':32} {'count':>8} {'req/s':>8} {'median':>8} {'p99':>8} {'errors':>7}")
    for name, f in figures.items():
        print(
            f"  {name:32} {f['count']:8.0f} {f['rps']:8.1f} {f['median']:6.0f}ms "
            f"{f['p99']:6.0f}ms {f['failures']:7.0f}"
        )
    if any(k.startswith("cpu ") for k in figures.get("Aggregated", {})):
        print(f"  CPU per request: {cpu_per_request(figures)}")


def cpu_per_request(figures: dict[str, dict[str, float]]) -> str:
    """The phase's CPU by process, in ms per request answered: where the machine's two cores
    went, which the throughput of a closed loop on a shared machine depends on."""
    aggregated = figures["Aggregated"]
    count = max(aggregated["count"], 1)
    spent = {k.removeprefix("cpu "): v for k, v in aggregated.items() if k.startswith("cpu ")}
    parts = [f"{group} {1000 * seconds / count:.2f} ms" for group, seconds in spent.items()]
    return ", ".join(parts) + f"; in all {1000 * sum(spent.values()) / count:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--users", type=int, default=8, help="simulated clients per phase")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="where the service's workers count rate limits ('' for each process's memory)",
    )
    parser.add_argument("--seconds", type=int, default=20, help="length of each phase")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the committee and the bare route alternate in this many rounds of a phase's length",
    )
    # Enough fresh badges for a phase at 1,500 check-ins a second (write set) and 900 (the
    # service) for 20 s; past them kiosks scan repeats, reported as "check-in (repeat)".
    parser.add_argument("--copies", type=int, default=330, help="copies of the demo event")
    parser.add_argument(
        "--write-set-copies",
        type=int,
        default=600,
        help="more copies, whose badges only the write-set phase scans",
    )
    args = parser.parse_args()
    if args.copies < 0 or args.write_set_copies < 1:
        parser.error("--copies must be 0 or more and --write-set-copies 1 or more")

    workdir = Path(tempfile.mkdtemp(prefix="smk-bench-load-"))
    print(f"machine: {machine()}; load average before: {os.getloadavg()}")
    print(
        f"server: {args.workers} workers; load: locust, {args.users} users per phase, "
        f"{args.seconds} s each, closed loop; files in {workdir}"
    )
    with scratch_database(args.database_url) as url:
        admin = prepare(url)
        meetings = asyncio.run(publish_demo_schedule(url))
        every_badge = asyncio.run(copy_demo_event(url, args.copies + args.write_set_copies))
        print(
            f"published schedule: {meetings} meetings in each of {args.copies + 1} events; "
            f"{len(every_badge) // (args.copies + args.write_set_copies + 1)} participants of "
            "each have meetings and are the ones checked in"
        )
        # The write set checks its badges in for good: the check-in phase gets others.
        door_badges = (
            len(every_badge) * (args.copies + 1) // (args.copies + 1 + args.write_set_copies)
        )
        badges, write_set_badges = every_badge[:door_badges], every_badge[door_badges:]
        random.Random(8).shuffle(badges)
        random.Random(9).shuffle(write_set_badges)
        common = {
            "users": args.users,
            "seconds": args.seconds,
            "workdir": workdir,
            "dsn": plain_dsn(url),
        }
        # Rate limits stay on (every request is counted, in Redis as in production with several
        # workers) but high enough never to refuse.
        limits = {
            "RATE_LIMIT_PARTNER": "10000000",
            "RATE_LIMIT_KIOSK": "10000000",
            "REDIS_URL": args.redis_url,
        }
        port = free_port()
        with serve_service(
            url, workers=args.workers, port=port, log=workdir / "service.log", **limits
        ) as base:
            # The keys, made on the service, serve every later phase and server.
            data: dict[str, Any] = {
                **make_keys(base, admin, kiosks=args.users),
                "badges": badges,
            }
            # The ceiling, the check-in and the floor, all served, driven in turn: the headline
            # ratio, and the floor's share of the distance, on the same drift.
            with (
                serve_factory(
                    "ceiling_app",
                    workers=args.workers,
                    port=free_port(),
                    log=workdir / "ceiling_app.log",
                    env={"CEILING_DSN": plain_dsn(url)},
                ) as ceiling_host,
                serve_factory(
                    "floor_app",
                    workers=args.workers,
                    port=free_port(),
                    log=workdir / "floor_app.log",
                    env={"DATABASE_URL": url, **limits},
                ) as floor_host,
            ):
                checkin_title = "check-in burst: kiosks scanning fresh badges"
                compared = alternate(
                    {
                        "ceiling: one INSERT through asyncpg, minimal FastAPI app": (
                            ceiling_host,
                            "CeilingKiosk",
                        ),
                        checkin_title: (base, "Kiosk"),
                        "service floor: the ceiling's INSERT behind the service's key and stack": (
                            floor_host,
                            "FloorKiosk",
                        ),
                    },
                    rounds=args.rounds,
                    data=data,
                    fresh_badges={checkin_title: badges},
                    **common,
                )
            ceiling_figures, checkin_figures, floor_figures = compared.values()
            directory_figures = run_locust("PartnerDirectory", host=base, data=data, **common)
            report("directory reads by partner systems", directory_figures)
            recommendation_figures = run_locust(
                "PartnerRecommendations", host=base, data=data, **common
            )
            report("recommendations", recommendation_figures)
            import httpx

            some = data["committees"][-1]
            served_json = httpx.get(
                f"{base}/v1/committees/{some}",
                headers={"Authorization": f"Bearer {data['partner_keys'][0]}"},
            ).json()
            # The committee and the bare route it is held to, both served, driven in turn.
            with serve_factory(
                "bare_committee_app",
                workers=args.workers,
                port=free_port(),
                log=workdir / "bare_committee_app.log",
                env={"CEILING_DSN": plain_dsn(url)},
            ) as bare_host:
                bare_json = httpx.get(f"{bare_host}/v1/committees/{some}").json()
                if bare_json != served_json:
                    print(f"warning: the bare app's JSON differs: {bare_json} != {served_json}")
                compared = alternate(
                    {
                        "one committee, authenticated GET": (base, "CommitteeReader"),
                        "bare: the same committee JSON from asyncpg, minimal FastAPI app, no key": (
                            bare_host,
                            "CommitteeReader",
                        ),
                    },
                    rounds=args.rounds,
                    data=data,
                    **common,
                )
            committee_figures, bare_figures = compared.values()
        # Last, served alone: its tens of thousands of rows are not in the tables while the
        # service is measured. Its ratio is to the alternated ceiling, a few minutes before.
        write_set_figures = factory_phase(
            "write_set_app",
            "WriteSetKiosk",
            "write set: a first check-in's rows in one statement",
            env={"DATABASE_URL": url, "CEILING_DSN": plain_dsn(url), **limits},
            data_for=lambda _: {**data, "badges": write_set_badges},
            workers=args.workers,
            **common,
        )
    ceiling_rps = ceiling_figures["Aggregated"]["rps"]
    floor_rps = floor_figures["Aggregated"]["rps"]
    # First check-ins only: repeats (once the fresh badges run out) are reported apart.
    checkin = checkin_figures.get("check-in", checkin_figures["Aggregated"])
    write_set_rps = write_set_figures.get("check-in", write_set_figures["Aggregated"])["rps"]
    committee = committee_figures["Aggregated"]
    bare_rps = bare_figures["Aggregated"]["rps"]
    phases = (
        floor_figures,
        write_set_figures,
        checkin_figures,
        directory_figures,
        recommendation_figures,
        committee_figures,
        bare_figures,
    )
    errors = sum(f["Aggregated"]["failures"] for f in phases)
    print(
        f"\nfirst check-ins (published schedule) {checkin['rps']:.0f}/s = "
        f"{100 * checkin['rps'] / ceiling_rps:.0f}% of the ceiling's {ceiling_rps:.0f}/s "
        f"(goal 35%); p99 {checkin['p99']:.0f} ms (goal < 50 ms); "
        f"errors: {checkin_figures['Aggregated']['failures']:.0f} "
        f"({errors:.0f} in all the service's phases)"
    )
    if "check-in (repeat)" in checkin_figures:
        repeat = checkin_figures["check-in (repeat)"]
        print(
            f"repeat check-ins {repeat['count']:.0f} at {repeat['rps']:.0f}/s, "
            f"p99 {repeat['p99']:.0f} ms (not in the figures above)"
        )
    print(
        f"one committee {committee['rps']:.0f}/s = {100 * committee['rps'] / bare_rps:.0f}% of "
        f"the bare route's {bare_rps:.0f}/s (goal 50%); p99 {committee['p99']:.0f} ms"
    )
    print(
        f"service floor {floor_rps:.0f}/s = {100 * floor_rps / ceiling_rps:.0f}% of the ceiling; "
        f"the check-in makes {100 * checkin['rps'] / floor_rps:.0f}% of the floor"
    )
    print(
        f"write set (served alone, after) {write_set_rps:.0f}/s = "
        f"{100 * write_set_rps / ceiling_rps:.0f}% of the ceiling; the check-in makes "
        f"{100 * checkin['rps'] / write_set_rps:.0f}% of it"
    )
    print(
        "p99 at "
        + str(args.users)
        + " clients back to back: "
        + ", ".join(
            f"{name} {figures['Aggregated']['p99']:.0f} ms"
            for name, figures in (
                ("check-in", checkin_figures),
                ("directory", directory_figures),
                ("recommendations", recommendation_figures),
                ("committee", committee_figures),
            )
        )
    )
    for phase, figures, option in (
        ("check-in", checkin_figures, "--copies"),
        ("write-set", write_set_figures, "--write-set-copies"),
    ):
        if "check-in (repeat)" in figures:
            repeats = figures["check-in (repeat)"]["count"]
            print(
                f"warning: the {phase} phase ran out of fresh badges ({repeats:.0f} repeats in "
                f"its figures); raise {option} for first check-ins only"
            )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
elif "locust" in sys.modules:
    # Loaded by locust as its locustfile: the simulated clients.
    import itertools
    from urllib.parse import quote

    from locust import FastHttpUser, constant, events, task

    DATA: dict[str, Any] = json.loads(Path(os.environ["BENCH_DATA"]).read_text())
    _BADGES = iter(DATA.get("badges", []))
    _USER_NUMBERS = itertools.count()
    _ROUND = DATA.get("round", 0)  # of an alternation: nonces stay unique across its rounds
    _CPU_AT_START: list[float] = []

    def _own_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @events.test_start.add_listener
    def _load_starts(**_: Any) -> None:
        _CPU_AT_START.append(_own_cpu())

    @events.test_stop.add_listener
    def _load_stops(**_: Any) -> None:
        # Its own CPU while it drove the load: its start-up (about 0.7 s) is no request's.
        Path(os.environ["BENCH_CPU"]).write_text(repr(_own_cpu() - _CPU_AT_START[0]))

    class CeilingKiosk(FastHttpUser):
        """A kiosk against the ceiling app: the same request, one INSERT behind it."""

        wait_time = constant(0)

        def on_start(self) -> None:
            self.number = next(_USER_NUMBERS)
            self.scans = itertools.count()

        @task
        def scan(self) -> None:
            _, badge = next(_BADGES, ("", "REPEAT-00000"))
            self.client.post(
                "/checkins",
                json={"badge_code": badge, "nonce": f"k{_ROUND}-{self.number}-{next(self.scans)}"},
                name="check-in",
            )

    class Kiosk(FastHttpUser):
        """A kiosk of the event scanning badges it has not seen, back to back."""

        wait_time = constant(0)
        route = "checkins"
        nonce_prefix = "k"

        def on_start(self) -> None:
            self.number = next(_USER_NUMBERS)
            key = DATA["kiosk_keys"][self.number % len(DATA["kiosk_keys"])]
            self.headers = {"Authorization": f"Bearer {key}"}
            self.scans = itertools.count()
            self.last: tuple[str, str] | None = None

        @task
        def scan(self) -> None:
            # Fresh badges while they last (201); after that the same badges again (200).
            fresh = next(_BADGES, None)
            event_id, badge = fresh or self.last or DATA["badges"][0]
            self.last = (event_id, badge)
            nonce = f"{self.nonce_prefix}{_ROUND}-{self.number}-{next(self.scans)}"
            with self.client.post(
                f"/v1/events/{event_id}/{self.route}",
                json={"badge_code": badge, "nonce": nonce},
                headers=self.headers,
                name="check-in" if fresh else "check-in (repeat)",
                catch_response=True,
            ) as answer:
                if answer.status_code not in (200, 201):
                    answer.failure(f"{answer.status_code}: {answer.text[:200]}")

    class FloorKiosk(Kiosk):
        """The same kiosk against the service floor: the ceiling's INSERT behind its key."""

        route = "floor-checkins"
        # Not the ceiling phase's nonces: the scratch table keeps them unique.
        nonce_prefix = "floor"

    class WriteSetKiosk(Kiosk):
        """The same kiosk against the write set: a check-in's rows in one statement."""

        route = "write-set-checkins"
        nonce_prefix = "write-set"

    class PartnerDirectory(FastHttpUser):
        """A partner system reading the directory: search, a page, one record."""

        wait_time = constant(0)

        def on_start(self) -> None:
            self.number = next(_USER_NUMBERS)
            key = DATA["partner_keys"][self.number % len(DATA["partner_keys"])]
            self.headers = {"Authorization": f"Bearer {key}"}
            self.random = random.Random(self.number)

        @task(2)
        def search(self) -> None:
            query = self.random.choice(DATA["queries"])
            kind = self.random.choice(["committees", "organizations"])
            self.client.get(
                f"/v1/{kind}?q={quote(query)}&limit=20",
                headers=self.headers,
                name="directory search",
            )

        @task(1)
        def page(self) -> None:
            self.client.get(
                "/v1/organizations?limit=50", headers=self.headers, name="directory page"
            )

        @task(2)
        def record(self) -> None:
            committee = self.random.choice(DATA["committees"])
            self.client.get(
                f"/v1/committees/{committee}", headers=self.headers, name="directory record"
            )

    class CommitteeReader(FastHttpUser):
        """A partner system reading one committee at a time (the service, or the bare app)."""

        wait_time = constant(0)

        def on_start(self) -> None:
            self.number = next(_USER_NUMBERS)
            key = DATA["partner_keys"][self.number % len(DATA["partner_keys"])]
            self.headers = {"Authorization": f"Bearer {key}"}
            self.random = random.Random(self.number)
            # Not the partner's own committee: contact details hidden, as in the bare app.
            own = self.number % len(DATA["partner_keys"])
            self.committees = [c for i, c in enumerate(DATA["committees"]) if i != own]

        @task
        def read(self) -> None:
            committee = self.random.choice(self.committees)
            self.client.get(
                f"/v1/committees/{committee}", headers=self.headers, name="one committee"
            )

    class PartnerRecommendations(FastHttpUser):
        """A partner system asking for the best counterparts of committees and organizations."""

        wait_time = constant(0)

        def on_start(self) -> None:
            self.number = next(_USER_NUMBERS)
            key = DATA["partner_keys"][self.number % len(DATA["partner_keys"])]
            self.headers = {"Authorization": f"Bearer {key}"}
            self.random = random.Random(self.number)

        @task
        def recommend(self) -> None:
            if self.random.random() < 0.5:
                party = self.random.choice(DATA["organizations"])
                url = f"/v1/organizations/{party}/recommendations"
            else:
                party = self.random.choice(DATA["committees"])
                url = f"/v1/committees/{party}/recommendations"
            self.client.get(url, headers=self.headers, name="recommendations")
