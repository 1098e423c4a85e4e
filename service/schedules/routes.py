"""The event's schedule over HTTP: build a draft, publish it, export the grid."""

import asyncio
import contextlib
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select

from service.auth.dependencies import AdminKey
from service.builds import service as builds
from service.builds.schemas import ScheduleBuildOut
from service.config import Settings
from service.db import SessionDep
from service.errors import NotFound, PreconditionFailed, problem_responses
from service.events import service as events
from service.meetings import service as meetings
from service.models import Meeting, Schedule, ScheduleBuild
from service.schedules import service
from service.schedules.schemas import ScheduleOut, ScheduleRequest
from service.spreadsheets import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    file_response,
)
from service.versions import etag

router = APIRouter(prefix="/v1/events/{event_id}", tags=["schedule"])

# Proxies commonly end a request at 60 s; a longer build is followed through its Location.
MAX_WAIT_S = 60.0
WAIT_POLL_S = 0.25
SHARED_MARGIN_S = 120.0


async def schedule_out(session: SessionDep, schedule: Schedule) -> ScheduleOut:
    names = {
        str(k): v
        for k, v in (
            await meetings.names_by_participant(session, event_id=schedule.event_id)
        ).items()
    }
    bound = schedule.weight_bound
    gap = (
        None
        if bound is None
        else (0.0 if bound == 0 else round((bound - schedule.total_weight) / bound, 6))
    )
    return ScheduleOut(
        id=schedule.id,
        event_id=schedule.event_id,
        state=schedule.state,
        mode=schedule.mode,
        status=schedule.status,
        meetings=await service.meeting_count(session, schedule_id=schedule.id),
        total_weight=schedule.total_weight,
        weight_bound=bound,
        gap=gap,
        objective=schedule.objective,
        unmet=service.unmet_out(schedule, names),
        seconds=schedule.seconds,
        created_at=schedule.created_at,
        published_at=schedule.published_at,
    )


def _wait_seconds(prefer: str | None) -> float:
    """The `wait` of an RFC 7240 Prefer header, at most MAX_WAIT_S; 0 without one."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            with contextlib.suppress(ValueError):
                return min(max(float(value.strip().strip('"')), 0.0), MAX_WAIT_S)
    return 0.0


async def _wait_for(request: Request, build: ScheduleBuild, seconds: float) -> ScheduleBuild:
    """The build once it ended, or as it is when `seconds` have passed."""
    builds_here = request.app.state.builds
    sessionmaker = request.app.state.sessionmaker
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        ended_here = await builds_here.wait(build.id, min(remaining, WAIT_POLL_S))
        if ended_here or builds_here.reads:
            async with sessionmaker.begin() as session:
                build = await builds.get_build(session, event_id=build.event_id, build_id=build.id)
            if build.state in builds.FINISHED:
                break
    return build


@router.post(
    "/schedule",
    status_code=202,
    operation_id="buildSchedule",
    summary="Build the draft, as a job: hard rules kept, least meetings first, then the largest "
    "weight",
    description="Answers 202 with the build (poll its `Location` for state and progress; cancel "
    "it with `:cancel`). With `Prefer: wait=N` (at most 60) the answer waits up to N seconds and "
    "is 201 with the draft when the build succeeded by then, else 202 with the build as it is. "
    "One build of an event runs at a time: another while one is queued or running is 409 "
    "`build_in_progress`. A build that succeeds replaces the draft and sends `schedule.built`.",
    responses={
        201: {"model": ScheduleOut, "description": "Built within the `Prefer: wait`: the draft."},
        **problem_responses(NotFound, service.NotEnoughTables, builds.BuildInProgress),
    },
)
async def build_schedule(
    event_id: uuid.UUID,
    body: ScheduleRequest,
    _: AdminKey,
    request: Request,
    response: Response,
    prefer: Annotated[
        str | None,
        Header(description="`wait=N`: wait up to N seconds (at most 60) for the draft."),
    ] = None,
) -> ScheduleBuildOut | ScheduleOut:
    settings: Settings = request.app.state.settings
    builds_here = request.app.state.builds
    sessionmaker = request.app.state.sessionmaker
    # Committed before the answer, not with it: a worker must see the build to start it, and
    # with Prefer: wait this request waits for that worker.
    async with sessionmaker.begin() as session:
        event = await events.get_event(session, event_id=event_id)
        build = await builds.submit(
            session,
            event=event,
            mode=body.mode,
            fairness=body.fairness,
            time_limit=body.time_limit_seconds or settings.schedule_time_limit_seconds,
        )
        await builds_here.enqueue(session, build)
    builds_here.submitted(build.id)
    seconds = _wait_seconds(prefer)
    if not builds_here.reads:
        # Sessions on a test's connection: nothing else may use it while the build runs on it,
        # so this answer waits for the build, whatever the client asked.
        await builds_here.wait(build.id, build.time_limit_seconds + SHARED_MARGIN_S)
        async with sessionmaker.begin() as session:
            build = await builds.get_build(session, event_id=event_id, build_id=build.id)
    elif seconds:
        build = await _wait_for(request, build, seconds)
    if seconds and build.state == "succeeded" and build.schedule_id is not None:
        async with sessionmaker.begin() as session:
            schedule = await session.get(Schedule, build.schedule_id)
            if schedule is not None:
                response.status_code = 201
                response.headers["Location"] = f"/v1/events/{event_id}/schedule"
                response.headers["Content-Location"] = builds.build_url(build)
                response.headers["ETag"] = etag(schedule.id)
                return await schedule_out(session, schedule)
    response.headers["Location"] = builds.build_url(build)
    response.headers.update(builds.poll_headers(build))
    return builds.build_out(build)


@router.get(
    "/schedule",
    operation_id="getSchedule",
    summary="The draft and the published schedule's figures",
    responses=problem_responses(NotFound),
)
async def get_schedule(
    event_id: uuid.UUID, _: AdminKey, session: SessionDep
) -> dict[str, ScheduleOut | None]:
    await events.get_event(session, event_id=event_id)
    result: dict[str, ScheduleOut | None] = {}
    for state in ("draft", "published"):
        current = await meetings.current_schedule(session, event_id=event_id, state=state)
        result[state] = await schedule_out(session, current) if current else None
    return result


@router.post(
    "/schedule:publish",
    operation_id="publishSchedule",
    summary="Publish the draft: agendas show it from now on (If-Match: only the draft built)",
    responses=problem_responses(NotFound, service.NoDraft, PreconditionFailed),
)
async def publish_schedule(
    event_id: uuid.UUID,
    _: AdminKey,
    session: SessionDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(
            description="Optional: the ETag the draft's build answered. Then only that draft is "
            "published (412 when another build has replaced it)."
        ),
    ] = None,
) -> ScheduleOut:
    event = await events.get_event(session, event_id=event_id)
    schedule = await service.publish(session, event=event, if_match=if_match)
    response.headers["ETag"] = etag(schedule.id)
    return await schedule_out(session, schedule)


@router.get(
    "/schedule:export",
    operation_id="exportSchedule",
    summary="The whole grid, slots by tables, as XLSX or CSV",
    response_class=Response,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}}, "description": "The grid."},
        **problem_responses(NotFound),
    },
)
async def export_schedule(
    event_id: uuid.UUID,
    _: AdminKey,
    session: SessionDep,
    format: Literal["csv", "xlsx"] = "xlsx",  # noqa: A002
    schedule: Annotated[str, Query(pattern="^(published|draft)$")] = "published",
) -> Response:
    event = await events.get_event(session, event_id=event_id)
    current = await meetings.current_schedule(session, event_id=event_id, state=schedule)
    if current is None:
        raise NotFound(f"The event has no {schedule} schedule.")
    names = await meetings.names_by_participant(session, event_id=event_id)
    placed = (
        await session.scalars(
            select(Meeting).where(Meeting.schedule_id == current.id, Meeting.status != "cancelled")
        )
    ).all()
    cells = {
        (m.slot, m.table_number): " × ".join(
            names[p]["name_zh"] for p in (m.committee_participant_id, m.organization_participant_id)
        )
        for m in placed
    }
    times = events.slot_times(event)
    columns = ["slot", "time", *(f"table {t}" for t in range(1, event.tables + 1))]
    rows: list[list[Any]] = [
        [
            s,
            f"{times[s - 1][0]:%H:%M}–{times[s - 1][1]:%H:%M}",
            *(cells.get((s, t), "") for t in range(1, event.tables + 1)),
        ]
        for s in range(1, len(event.slots) + 1)
    ]
    return file_response(columns, rows, name="schedule", file_format=format)
