"""The kiosk over HTTP: check-in, scans, and who is still expected."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from service.auth.dependencies import AdminKey, KioskKey
from service.checkins import service
from service.checkins.schemas import CheckInIn, CheckInOut, CheckInStatus, ScanOut
from service.db import SessionDep
from service.errors import PROBLEM_MEDIA_TYPE, NotFound, problem_responses
from service.events import service as events
from service.events.routes import participant_out
from service.meetings import service as meetings
from service.models import Event, Participant, Scan
from service.pagination import DEFAULT_LIMIT, InvalidCursor, fetch_page
from service.schemas import Limit, Page

router = APIRouter(prefix="/v1/events/{event_id}", tags=["check-in"])

PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


@router.post(
    "/checkins",
    operation_id="checkIn",
    summary="Check a badge in: 201 the first time, 200 `already_checked_in` after",
    status_code=201,
    response_model=CheckInOut,
    responses={
        200: {"model": CheckInOut, "description": "Already checked in: the original time is kept."},
        **problem_responses(NotFound, events.EventNotAllowed),
        404: {
            "description": "Unknown event, or unknown badge (`reason: unknown_badge`).",
            "content": PROBLEM_CONTENT,
        },
        409: {
            "description": "The event is not open (`reason: event_not_open`).",
            "content": PROBLEM_CONTENT,
        },
    },
)
async def check_in(
    event_id: uuid.UUID, body: CheckInIn, principal: KioskKey, session: SessionDep, request: Request
) -> JSONResponse:
    async def render(
        event: Event, participant: Participant, checked_in_at: datetime, reason: str | None
    ) -> dict[str, Any]:
        out = CheckInOut(
            reason=reason,
            checked_in_at=checked_in_at,
            participant=participant_out(participant, principal, checked_in_at),
            agenda=await meetings.agenda(session, event=event, participant=participant),
        )
        return out.model_dump(mode="json")

    status, answer = await service.check_in(
        session,
        event_id=event_id,
        badge_code=body.badge_code,
        nonce=body.nonce,
        scanned_at=body.scanned_at,
        principal=principal,
        path=request.url.path,
        render=render,
    )
    media_type = "application/json" if status < 400 else PROBLEM_MEDIA_TYPE
    return JSONResponse(answer, status_code=status, media_type=media_type)


@router.get(
    "/checkins/status",
    operation_id="getCheckInStatus",
    summary="Registered, checked in and still expected, by kind of party",
    responses=problem_responses(NotFound, events.EventNotAllowed),
)
async def check_in_status(
    event_id: uuid.UUID, principal: KioskKey, session: SessionDep
) -> CheckInStatus:
    await events.get_event(session, event_id=event_id, principal=principal)
    return CheckInStatus.model_validate(await service.status(session, event_id=event_id))


@router.get(
    "/scans",
    operation_id="listScans",
    summary="Every scan at the door, failed ones included, newest last",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_scans(
    event_id: uuid.UUID,
    _: AdminKey,
    session: SessionDep,
    failed: Annotated[
        bool | None, Query(description="Only failed scans (true) or only successful ones (false).")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ScanOut]:
    await events.get_event(session, event_id=event_id)
    stmt = select(Scan).where(Scan.event_id == event_id)
    if failed is not None:
        ok = Scan.outcome.in_(("checked_in", "already_checked_in"))
        stmt = stmt.where(~ok if failed else ok)
    items, next_cursor = await fetch_page(
        session, stmt, created_at=Scan.created_at, record_id=Scan.id, limit=limit, cursor=cursor
    )
    return Page(
        items=[ScanOut.model_validate(s, from_attributes=True) for s in items],
        next_cursor=next_cursor,
    )
