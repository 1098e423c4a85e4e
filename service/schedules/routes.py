"""The event's schedule over HTTP: build a draft, publish it, export the grid."""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select

from service.auth.dependencies import AdminKey
from service.config import Settings
from service.db import SessionDep
from service.directory.taxonomy import TaxonomyDep
from service.errors import NotFound, PreconditionFailed, problem_responses
from service.events import service as events
from service.meetings import service as meetings
from service.models import Meeting, Schedule
from service.schedules import service
from service.schedules.schemas import ScheduleOut, ScheduleRequest
from service.spreadsheets import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    file_response,
)
from service.versions import etag

router = APIRouter(prefix="/v1/events/{event_id}", tags=["schedule"])


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


@router.post(
    "/schedule",
    status_code=201,
    operation_id="buildSchedule",
    summary="Build the draft: hard rules kept, least meetings first, then the largest weight",
    responses=problem_responses(NotFound, service.NotEnoughTables),
)
async def build_schedule(
    event_id: uuid.UUID,
    body: ScheduleRequest,
    _: AdminKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    request: Request,
    response: Response,
) -> ScheduleOut:
    settings: Settings = request.app.state.settings
    event = await events.get_event(session, event_id=event_id)
    schedule = await service.build(
        session,
        event=event,
        mode=body.mode,
        fairness=body.fairness,
        time_limit=body.time_limit_seconds or settings.schedule_time_limit_seconds,
        settings=settings,
        forest=taxonomy,
    )
    response.headers["Location"] = f"/v1/events/{event_id}/schedule"
    response.headers["ETag"] = etag(schedule.id)
    return await schedule_out(session, schedule)


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
