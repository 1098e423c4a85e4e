"""Schedule builds: submitting, reading and cancelling one; claiming, beating and finishing it
for the process that runs it; and sweeping up builds whose process was lost."""

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.builds.schemas import BuildProgress, ScheduleBuildOut
from service.config import Settings
from service.errors import Conflict, NotFound
from service.models import Event, ScheduleBuild
from service.models.columns import utcnow
from service.schedules.service import committee_tables
from service.solver.problem import Solution

FINISHED = ("succeeded", "failed", "cancelled")
Requeue = Callable[[AsyncSession, ScheduleBuild], Awaitable[None]]


class BuildInProgress(Conflict):
    code, title = "build_in_progress", "A build of this event is queued or running"


class BuildFinished(Conflict):
    code, title = "build_finished", "The build has already finished"


@dataclass(frozen=True)
class Claimed:
    """A build as the process that runs it needs it."""

    id: uuid.UUID
    event_id: uuid.UUID
    mode: str
    fairness: int | None
    time_limit_seconds: float
    attempt: int


async def active_build(session: AsyncSession, *, event_id: uuid.UUID) -> ScheduleBuild | None:
    """The event's queued or running build, if any."""
    return await session.scalar(
        select(ScheduleBuild).where(
            ScheduleBuild.event_id == event_id, ScheduleBuild.state.in_(("queued", "running"))
        )
    )


async def submit(
    session: AsyncSession,
    *,
    event: Event,
    mode: str,
    fairness: int | None,
    time_limit: float,
) -> ScheduleBuild:
    """Queue a build of the event's draft; 409 while another build of it is queued or running.

    The event is checked here too (every committee needs a table), so what would fail at once
    is refused at once rather than by a failed build.
    """
    build = ScheduleBuild(
        event_id=event.id,
        state="queued",
        mode=mode,
        fairness=fairness,
        time_limit_seconds=time_limit,
        progress={},
        attempts=0,
        cancel_requested=False,
    )
    try:
        async with session.begin_nested():
            session.add(build)
            await session.flush()
    except IntegrityError:
        running = await active_build(session, event_id=event.id)
        if running is None:
            raise BuildInProgress("Another build of this event is queued or running.") from None
        raise BuildInProgress(
            f"Build {running.id} of this event is {running.state} "
            f"(/v1/events/{event.id}/schedule-builds/{running.id}); wait for it or cancel it.",
            build_id=str(running.id),
        ) from None
    # After the build's row: a second submission waits on its unique index and is refused,
    # instead of racing this one to seat the committees.
    await committee_tables(session, event=event)
    return build


async def get_build(
    session: AsyncSession, *, event_id: uuid.UUID, build_id: uuid.UUID
) -> ScheduleBuild:
    """One build of the event; 404 when it is not there."""
    build = await session.get(ScheduleBuild, build_id)
    if build is None or build.event_id != event_id:
        raise NotFound("No such schedule build.")
    return build


async def cancel(
    session: AsyncSession, *, event_id: uuid.UUID, build_id: uuid.UUID
) -> ScheduleBuild:
    """Cancel a build: a queued one at once, a running one by its process within a second."""
    build = await session.get(ScheduleBuild, build_id, with_for_update=True)
    if build is None or build.event_id != event_id:
        raise NotFound("No such schedule build.")
    if build.state in FINISHED:
        if build.state == "cancelled":
            return build
        raise BuildFinished(f"The build has {build.state}; there is nothing to cancel.")
    build.cancel_requested = True
    if build.state == "queued":
        build.state, build.finished_at = "cancelled", utcnow()
    await session.flush()
    return build


def figures(build: ScheduleBuild, *, now: datetime | None = None) -> dict[str, Any]:
    """The build's live figures: elapsed seconds, the best weight and breaks and their bounds,
    and the weight gap."""
    progress = build.progress or {}
    end = build.finished_at or now or utcnow()
    elapsed = (end - build.started_at).total_seconds() if build.started_at else 0.0
    weight, bound = progress.get("weight"), progress.get("weight_bound")
    gap = None
    if weight is not None and bound is not None:
        gap = 0.0 if bound == 0 else round(max(bound - weight, 0) / bound, 6)
    return {
        "stage": progress.get("stage"),
        "elapsed_seconds": round(max(elapsed, 0.0), 3),
        "weight": weight,
        "weight_bound": bound,
        "gap": gap,
        "breaks": progress.get("breaks"),
        "breaks_bound": progress.get("breaks_bound"),
    }


async def claim(session: AsyncSession, *, build_id: uuid.UUID, worker: str) -> Claimed | None:
    """Take a queued build to run; None when it is not queued (cancelled, or taken by another)."""
    now = utcnow()
    row = (
        await session.execute(
            update(ScheduleBuild)
            .where(ScheduleBuild.id == build_id, ScheduleBuild.state == "queued")
            .values(
                state="running",
                attempts=ScheduleBuild.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                worker=worker[:200],
            )
            .returning(
                ScheduleBuild.event_id,
                ScheduleBuild.mode,
                ScheduleBuild.fairness,
                ScheduleBuild.time_limit_seconds,
                ScheduleBuild.attempts,
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        return None
    return Claimed(build_id, row[0], row[1], row[2], row[3], row[4])


async def queued_ids(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """The oldest queued builds, for a pool with free processes."""
    return list(
        (
            await session.scalars(
                select(ScheduleBuild.id)
                .where(ScheduleBuild.state == "queued")
                .order_by(ScheduleBuild.created_at, ScheduleBuild.id)
                .limit(limit)
            )
        ).all()
    )


async def beat(session: AsyncSession, *, build_id: uuid.UUID, progress: dict[str, Any]) -> bool:
    """Renew the running build's heartbeat and record its progress; False when it should stop
    (cancelled, or no longer this process's to run)."""
    wanted = await session.scalar(
        update(ScheduleBuild)
        .where(ScheduleBuild.id == build_id, ScheduleBuild.state == "running")
        .values(heartbeat_at=utcnow(), progress=progress)
        .returning(ScheduleBuild.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    return wanted is False


async def still_running(session: AsyncSession, *, build_id: uuid.UUID) -> bool:
    """Lock the build's row and say whether it is running and wanted, before keeping its answer."""
    build = await session.get(ScheduleBuild, build_id, with_for_update=True, populate_existing=True)
    return build is not None and build.state == "running" and not build.cancel_requested


async def finish(
    session: AsyncSession,
    *,
    build_id: uuid.UUID,
    state: str,
    error: str | None = None,
    progress: dict[str, Any] | None = None,
    schedule_id: uuid.UUID | None = None,
) -> bool:
    """Record how a running build ended; False when it was no longer running."""
    values: dict[str, Any] = {"state": state, "finished_at": utcnow()}
    if error is not None:
        values["error"] = error
    if progress is not None:
        values["progress"] = progress
    if schedule_id is not None:
        values["schedule_id"] = schedule_id
    done = await session.execute(
        update(ScheduleBuild)
        .where(ScheduleBuild.id == build_id, ScheduleBuild.state == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def requeue(session: AsyncSession, *, build_id: uuid.UUID, reason: str) -> None:
    """Put a running build back in the queue (its process is stopping); it runs again."""
    await session.execute(
        update(ScheduleBuild)
        .where(ScheduleBuild.id == build_id, ScheduleBuild.state == "running")
        .values(state="queued", error=reason, heartbeat_at=None)
        .execution_options(synchronize_session=False)
    )


async def sweep(
    session: AsyncSession,
    *,
    settings: Settings,
    enqueue: Requeue | None = None,
    alive: Collection[uuid.UUID] = (),
) -> list[ScheduleBuild]:
    """Builds whose process was lost (heartbeat older than the lease): queued again while runs
    are left, else failed with the reason; returns them. `alive`: builds the caller's own
    process runs, whose heartbeat may lag while it starts their engine."""
    now = utcnow()
    stale = now - timedelta(seconds=settings.build_lease_seconds)
    lost = list(
        (
            await session.scalars(
                select(ScheduleBuild)
                .where(
                    ScheduleBuild.state == "running",
                    ScheduleBuild.heartbeat_at < stale,
                    ScheduleBuild.id.not_in(alive),
                )
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for build in lost:
        seen = build.heartbeat_at.isoformat() if build.heartbeat_at else "never"
        reason = (
            f"the process running it ({build.worker}) was lost: no heartbeat since {seen}, "
            f"over {settings.build_lease_seconds:g} s"
        )
        if build.cancel_requested:
            build.state, build.finished_at = "cancelled", now
        elif build.attempts < settings.build_max_attempts:
            build.state, build.error, build.heartbeat_at = "queued", f"{reason}; run again", None
            if enqueue is not None:
                await enqueue(session, build)
        else:
            build.state, build.finished_at = "failed", now
            build.error = f"{reason}; after {build.attempts} runs"
    await session.flush()
    return lost


def solution_figures(result: Solution) -> dict[str, Any]:
    """The final progress of a build from the engine's answer."""
    objective = result.objective
    return {
        "stage": "done",
        "weight": objective.weight if objective else None,
        "weight_bound": result.weight_bound,
        "breaks": objective.breaks if objective else None,
        "breaks_bound": result.breaks_bound,
    }


def build_url(build: ScheduleBuild) -> str:
    """Where a build is read, and cancelled (`:cancel`)."""
    return f"/v1/events/{build.event_id}/schedule-builds/{build.id}"


def poll_headers(build: ScheduleBuild) -> dict[str, str]:
    """While a build is queued or running, how often to poll it."""
    return {} if build.state in FINISHED else {"Retry-After": "1"}


def build_out(build: ScheduleBuild) -> ScheduleBuildOut:
    """The build as the API shows it."""
    return ScheduleBuildOut(
        id=build.id,
        event_id=build.event_id,
        state=build.state,
        mode=build.mode,
        time_limit_seconds=build.time_limit_seconds,
        progress=BuildProgress(**figures(build)),
        attempts=build.attempts,
        cancel_requested=build.cancel_requested,
        error=build.error,
        schedule_id=build.schedule_id,
        schedule_url=f"/v1/events/{build.event_id}/schedule" if build.schedule_id else None,
        created_at=build.created_at,
        started_at=build.started_at,
        finished_at=build.finished_at,
    )
