"""Builds on PostgreSQL: procrastinate's queue, served by `python -m service worker`.

Why procrastinate (docs/jobs.md): it runs on the PostgreSQL the service already needs, so there
is no broker to run; jobs are rows, taken with `FOR UPDATE SKIP LOCKED` and announced with
LISTEN/NOTIFY, so workers on any number of machines share the queue; workers keep heartbeats,
and it is maintained and typed. Its tables live in the `procrastinate` schema (migration 0011).

A build's job is written in the transaction that creates the build, through procrastinate's own
SQL function: the build and its job commit together or not at all, and no worker sees a job
whose build is not there yet.
"""

import asyncio
import json
import logging
import uuid
from typing import Any

import procrastinate
from procrastinate.jobs import Status
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.builds import service as builds
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.errors import is_database_unavailable
from service.jobs.runner import RUNNING, WORKER, run_build, warm_up
from service.models import ScheduleBuild

log = logging.getLogger("service.jobs")

QUEUE = "schedule_builds"
TASK = "schedule_build"
SCHEMA = "procrastinate"

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
)
_SEARCH_PATH = text("SELECT set_config('search_path', :path, true)")


def uses_queue(settings: Settings) -> bool:
    """Whether builds go to the queue (else a local pool runs them)."""
    if settings.build_runner == "auto":
        return settings.database_url.startswith("postgresql")
    return settings.build_runner == "queue"


def libpq_url(settings: Settings) -> str:
    """The service's database as procrastinate (psycopg) connects to it."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def enqueue(session: AsyncSession, build: ScheduleBuild) -> None:
    """Write the build's job in the caller's transaction."""
    path = await session.scalar(text("SELECT current_setting('search_path')"))
    await session.execute(_SEARCH_PATH, {"path": f"{SCHEMA}, {path}"})
    await session.execute(
        _DEFER, {"queue": QUEUE, "task": TASK, "args": json.dumps({"build_id": str(build.id)})}
    )
    await session.execute(_SEARCH_PATH, {"path": path})


class QueueSubmitter:
    """What a web worker does with builds on the queue: write their jobs, nothing else."""

    reads = True

    async def enqueue(self, session: AsyncSession, build: ScheduleBuild) -> None:
        await enqueue(session, build)

    def submitted(self, build_id: uuid.UUID) -> None:
        """The job was written with the build; a worker hears of it by NOTIFY."""

    async def wait(self, build_id: uuid.UUID, seconds: float) -> bool:
        """Nothing here knows: let the time pass, then the caller reads the build."""
        await asyncio.sleep(seconds)
        return False

    def start(self) -> None:
        """Nothing runs here."""

    async def stop(self) -> None:
        """Nothing runs here."""


def make_app(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> procrastinate.App:
    """The procrastinate app with the build task, for the worker."""
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(settings),
        # Its schema first, for procrastinate's unqualified names.
        kwargs={"options": f"-c search_path={SCHEMA},public"},
        min_size=1,
        max_size=2 + settings.build_processes,
    )
    app = procrastinate.App(connector=connector)

    @app.task(name=TASK, queue=QUEUE)
    async def schedule_build(build_id: str) -> None:
        await run_build(sessionmaker, build_id=uuid.UUID(build_id), settings=settings)

    return app


async def _sweep_forever(
    app: procrastinate.App, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Builds of lost workers back to the queue (or failed), and their jobs closed."""
    while True:
        try:
            async with sessionmaker.begin() as session:
                lost = await builds.sweep(
                    session, settings=settings, enqueue=enqueue, alive=set(RUNNING)
                )
            for build in lost:
                log.warning("build %s lost its worker: %s", build.id, build.state)
            stalled = await app.job_manager.get_stalled_jobs(
                task_name=TASK, seconds_since_heartbeat=settings.build_lease_seconds
            )
            for job in stalled:
                await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        except Exception as exc:
            if not is_database_unavailable(exc):
                log.exception("sweeping lost builds failed")
        await asyncio.sleep(settings.build_lease_seconds / 3)


async def serve(settings: Settings, **options: Any) -> None:
    """Run builds from the queue until SIGTERM or SIGINT: `python -m service worker`."""
    await asyncio.to_thread(warm_up)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    app = make_app(settings, sessionmaker)
    try:
        async with app.open_async():
            sweeper = asyncio.create_task(_sweep_forever(app, sessionmaker, settings))
            try:
                await app.run_worker_async(
                    queues=[QUEUE],
                    name=WORKER,
                    concurrency=settings.build_processes,
                    shutdown_graceful_timeout=settings.build_stop_grace_seconds,
                    update_heartbeat_interval=settings.build_lease_seconds / 3,
                    stalled_worker_timeout=settings.build_lease_seconds,
                    **options,
                )
            finally:
                sweeper.cancel()
    finally:
        await engine.dispose()
