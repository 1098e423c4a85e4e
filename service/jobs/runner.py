"""Running one schedule build: the engine in a process of its own, watched from the event loop.

Whoever runs builds (the local pool of a web worker, `python -m service worker` on the queue,
`python -m service schedule`) calls `run_build`. It claims the build, reads the event, starts the
engine in a child process (at niceness BUILD_NICE) and, about every half second, records the
engine's progress with a heartbeat and reads whether the build was cancelled: then it kills the
child's process group (the engine's forked SAT processes with it), so a cancel takes effect
within a second. The event loop never runs the engine, so the process keeps answering while a
build runs.
"""

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.builds import service as builds
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.directory.taxonomy import load_taxonomy
from service.models import Event
from service.schedules import service as schedules
from service.solver.problem import Progress, Solution
from service.webhooks import service as webhooks

log = logging.getLogger("service.jobs")

PR_SET_PDEATHSIG = 1
HEARTBEAT_S = 0.5
TICK_S = 0.05
WORKER = f"{socket.gethostname()}:{os.getpid()}"
# Builds this process runs: alive whatever their heartbeat says, for this process's own sweeps.
RUNNING: set[uuid.UUID] = set()

# A fresh interpreter that has imported the engine once forks each build's process: quick to
# start, and nothing of the parent's event loop, threads or connections comes along.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["service.solver.engine", "service.schedules.service"])

ProgressListener = Callable[[dict[str, Any]], None]


def _die_with_parent() -> None:
    # Linux: the kernel kills this process when its parent (the fork server, which ends with
    # the process that started it) dies, so a killed worker leaves no engine running on.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def _read(settings: Settings, event_id: uuid.UUID) -> schedules.EngineInput:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine).begin() as session:
            event = await session.get(Event, event_id)
            if event is None:
                raise RuntimeError("the event was deleted")
            forest = await load_taxonomy(session)
            return await schedules.engine_input(
                session, event=event, settings=settings, forest=forest
            )
    finally:
        await engine.dispose()


def _engine_process(
    conn: Connection,
    given: schedules.EngineInput | None,
    settings: Settings,
    event_id: uuid.UUID,
    mode: str,
    fairness: int | None,
    time_limit: float,
) -> None:
    # Its own session: a process group, so killing it kills what the engine forked, and with
    # autogroup scheduling a scheduling group apart from the web worker that forked it.
    os.setsid()
    _die_with_parent()
    lower_priority(settings.build_nice)
    try:
        if given is None:
            # Scoring every pair is CPU work too: here, not on the loop that watches.
            given = asyncio.run(_read(settings, event_id))
            conn.send(("read", given))
        result = schedules.run_engine(
            given,
            mode=mode,
            fairness=fairness,
            time_limit=time_limit,
            progress=lambda p: conn.send(("progress", p)),
        )
        conn.send(("done", result))
    except BaseException as exc:  # the parent records why the build failed
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def lower_priority(nice: int) -> None:
    """Run this process, and its session's scheduling group, at niceness `nice` (never at a
    higher priority than the process had): where it shares cores with web workers, requests
    get the CPU first.

    Called before the process starts a thread: on Linux niceness is per thread, and the
    engine's threads (CP-SAT's workers, the at-floor search) and forked SAT processes inherit
    it from here. With autogroup scheduling (Linux's default outside containers) each session
    is a group with an equal share of the CPU whatever its processes' niceness: the group's
    own niceness is what weighs against the web workers. A group apart is also what lets a
    waking web worker in at once (a 1 ms task waking every 20 ms beside two busy threads at
    niceness 10, kernel 6.18: p99 0.5-1.1 ms with the threads in a session of their own,
    0.9-8.6 ms with them in the task's session).
    """
    with contextlib.suppress(OSError):
        nice = max(nice, os.getpriority(os.PRIO_PROCESS, 0))
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    for _ in range(10):
        try:
            with open("/proc/self/autogroup", "w") as autogroup:
                autogroup.write(str(nice))
            return
        except BlockingIOError:
            # Without CAP_SYS_ADMIN the kernel takes one such write a tenth of a second,
            # machine-wide.
            time.sleep(0.11)
        except OSError:
            return  # no autogroups here (another kernel, or not Linux)


def warm_up() -> None:
    """Start the fork server now (a second or two), not at the first build."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    if process.pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


class _Stopped(Exception):
    """The build was cancelled, or is no longer this process's to run."""


async def _watch(
    sessionmaker: async_sessionmaker[AsyncSession],
    build_id: uuid.UUID,
    process: multiprocessing.process.BaseProcess,
    conn: Connection,
    listener: ProgressListener | None,
    given: schedules.EngineInput | None,
) -> tuple[Solution, schedules.EngineInput]:
    progress: dict[str, Any] = {"stage": "reading"}
    next_beat = 0.0
    while True:
        while conn.poll():
            try:
                kind, payload = conn.recv()
            except EOFError:
                break
            if kind == "read":
                given = payload
            if kind == "done" and given is not None:
                return payload, given
            if kind == "error":
                raise RuntimeError(f"the engine failed: {payload}")
            if isinstance(payload, Progress):
                progress = asdict(payload)
                if listener is not None:
                    listener(progress)
        if not process.is_alive() and not conn.poll():
            raise RuntimeError(f"the engine's process ended without an answer ({process.exitcode})")
        if time.monotonic() >= next_beat:
            async with sessionmaker.begin() as session:
                going = await builds.beat(session, build_id=build_id, progress=progress)
            if not going:
                raise _Stopped
            next_beat = time.monotonic() + HEARTBEAT_S
        await asyncio.sleep(TICK_S)


async def run_build(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    build_id: uuid.UUID,
    settings: Settings,
    listener: ProgressListener | None = None,
    read_here: bool = False,
) -> str | None:
    """Run a queued build to its end; returns its final state, None when it was not queued.

    The engine's process reads the event itself unless `read_here` (sessions on a test's
    connection, which no other process sees). Stopped from outside (the worker shutting down),
    the build goes back to the queue.
    """
    async with sessionmaker.begin() as session:
        claimed = await builds.claim(session, build_id=build_id, worker=WORKER)
    if claimed is None:
        return None
    RUNNING.add(build_id)
    try:
        return await _run_claimed(sessionmaker, claimed, settings, listener, read_here)
    finally:
        RUNNING.discard(build_id)


async def _run_claimed(
    sessionmaker: async_sessionmaker[AsyncSession],
    claimed: builds.Claimed,
    settings: Settings,
    listener: ProgressListener | None,
    read_here: bool,
) -> str:
    build_id = claimed.id
    log.info("build %s of event %s started (run %s)", build_id, claimed.event_id, claimed.attempt)
    given = None
    if read_here:
        try:
            async with sessionmaker.begin() as session:
                event = await session.get(Event, claimed.event_id)
                if event is None:
                    raise RuntimeError("the event was deleted")
                given = await schedules.engine_input(
                    session, event=event, settings=settings, forest=await load_taxonomy(session)
                )
        except Exception as exc:
            log.exception("build %s could not read its event", build_id)
            return await _end(sessionmaker, build_id, "failed", f"{type(exc).__name__}: {exc}")
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(
        target=_engine_process,
        args=(
            sender,
            given,
            settings,
            claimed.event_id,
            claimed.mode,
            claimed.fairness,
            claimed.time_limit_seconds,
        ),
        name=f"build-{build_id}",
    )
    # Off the loop: the first start waits for the fork server to come up.
    await asyncio.to_thread(process.start)
    sender.close()
    ended: tuple[str, str | None] | None = None
    try:
        result, used = await _watch(sessionmaker, build_id, process, receiver, listener, given)
    except _Stopped:
        ended = ("cancelled", None)
    except asyncio.CancelledError:
        _kill(process)
        with contextlib.suppress(Exception):
            async with sessionmaker.begin() as session:
                await builds.requeue(
                    session, build_id=build_id, reason=f"stopped with its process {WORKER}"
                )
        raise
    except Exception as exc:
        ended = ("failed", str(exc))
    finally:
        _kill(process)
        receiver.close()
        await asyncio.to_thread(process.join, 5)
    if ended is not None:
        return await _end(sessionmaker, build_id, *ended)
    figures = builds.solution_figures(result)
    if listener is not None:
        listener(figures)
    async with sessionmaker.begin() as session:
        if not await builds.still_running(session, build_id=build_id):
            # Cancelled, or run again elsewhere, while the answer came: it is not kept.
            kept = False
        else:
            kept = True
            schedule = await schedules.save_draft(
                session, event_id=claimed.event_id, mode=claimed.mode, given=used, result=result
            )
            await builds.finish(
                session,
                build_id=build_id,
                state="succeeded",
                progress=figures,
                schedule_id=schedule.id,
            )
            await webhooks.emit(
                session,
                type="schedule.built",
                data={
                    "event_id": claimed.event_id,
                    "build_id": build_id,
                    "schedule_id": schedule.id,
                    "status": schedule.status,
                    "meetings": len(result.meetings),
                    "total_weight": schedule.total_weight,
                    "weight_bound": schedule.weight_bound,
                },
            )
    if not kept:
        return await _end(sessionmaker, build_id, "cancelled", None)
    log.info("build %s succeeded: %s, %s meetings", build_id, result.status, len(result.meetings))
    return "succeeded"


async def _end(
    sessionmaker: async_sessionmaker[AsyncSession],
    build_id: uuid.UUID,
    state: str,
    error: str | None,
) -> str:
    async with sessionmaker.begin() as session:
        await builds.finish(session, build_id=build_id, state=state, error=error)
    log.info("build %s %s%s", build_id, state, f": {error}" if error else "")
    return state
