"""The embedded way to run builds: a pool of processes of the service itself.

Each web worker (on SQLite, by default) and `python -m service worker` without the queue run one:
it takes queued builds from the database up to BUILD_PROCESSES at a time, each build's engine in
a process of its own (service/jobs/runner.py), and sweeps up builds whose process was lost. Any
number of pools may poll one database: a build is claimed by one of them only.
"""

import asyncio
import contextlib
import functools
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.builds import service as builds
from service.config import Settings
from service.errors import is_database_unavailable
from service.jobs.runner import RUNNING, run_build, warm_up
from service.models import ScheduleBuild

log = logging.getLogger("service.jobs")

POLL_S = 1.0


class LocalPool:
    """Runs queued builds in this process's pool until stopped.

    `poll=False` (an app on a test's connection, which a background task must not share) runs
    only what is submitted here and never reads the database on its own.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        settings: Settings,
        poll: bool = True,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.poll = poll
        # Whether others may read the database while its builds run (not on a test's connection).
        self.reads = poll
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running: dict[uuid.UUID, asyncio.Task[str | None]] = {}
        self._done: dict[uuid.UUID, asyncio.Event] = {}
        self._submitted: list[uuid.UUID] = []
        self._loop: asyncio.Task[None] | None = None
        self._next_sweep = 0.0
        self._warming: asyncio.Task[None] | None = None

    async def enqueue(self, session: AsyncSession, build: ScheduleBuild) -> None:
        """Nothing to write: the queued row is the queue here."""

    def submitted(self, build_id: uuid.UUID) -> None:
        """A build was committed: look now rather than at the next poll."""
        self._submitted.append(build_id)
        self._done.setdefault(build_id, asyncio.Event())
        self._wake.set()

    async def wait(self, build_id: uuid.UUID, seconds: float) -> bool:
        """Wait up to `seconds` for a build this pool runs to end; whether it did."""
        done = self._done.setdefault(build_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), seconds)
        return done.is_set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="schedule-builds")

    async def _run(self) -> None:
        if self.poll:
            # Beside the first passes, which sweep and take what is queued meanwhile.
            self._warming = asyncio.create_task(asyncio.to_thread(warm_up))
        await self._serve()

    async def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._pass()
            except Exception as exc:
                if not is_database_unavailable(exc):
                    log.exception("schedule build pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S if self.poll else None)

    async def _pass(self) -> None:
        free = self.settings.build_processes - len(self._running)
        ids = [i for i in self._submitted if i not in self._running][:free]
        del self._submitted[: len(ids)]
        if self.poll:
            loop = asyncio.get_running_loop()
            if loop.time() >= self._next_sweep:
                async with self.sessionmaker.begin() as session:
                    await builds.sweep(session, settings=self.settings, alive=set(RUNNING))
                self._next_sweep = loop.time() + self.settings.build_lease_seconds / 3
            if free > len(ids):
                async with self.sessionmaker.begin() as session:
                    more = await builds.queued_ids(session, limit=free)
                ids += [i for i in more if i not in ids and i not in self._running][
                    : free - len(ids)
                ]
        for build_id in ids:
            task = asyncio.create_task(
                run_build(
                    self.sessionmaker,
                    build_id=build_id,
                    settings=self.settings,
                    read_here=not self.poll,
                ),
                name=f"build-{build_id}",
            )
            self._running[build_id] = task
            task.add_done_callback(functools.partial(self._ended, build_id))

    def _ended(self, build_id: uuid.UUID, _: object) -> None:
        task = self._running.pop(build_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("build %s ended with an error", build_id, exc_info=task.exception())
        self._done.setdefault(build_id, asyncio.Event()).set()
        self._done.pop(build_id, None)
        self._wake.set()

    async def stop(self) -> None:
        """Give running builds the stop grace period, then stop them: they are queued again."""
        self._stopping.set()
        self._wake.set()
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=self.settings.build_stop_grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
