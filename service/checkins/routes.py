"""The kiosk over HTTP: check-in, scans, and who is still expected."""

import uuid
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.dependencies import AdminKey, KioskKey
from service.auth.service import Principal
from service.checkins import service
from service.checkins.schemas import (
    CheckInIn,
    CheckInOut,
    CheckInStatus,
    CheckInUndo,
    CheckInUndone,
    ScanOut,
    StatusCounts,
)
from service.config import Settings
from service.db import SessionDep, driver_transaction
from service.directory.taxonomy import Taxonomy, TaxonomyDep
from service.errors import PROBLEM_MEDIA_TYPE, NotFound, problem_responses, render_problem
from service.events import service as events
from service.meetings import service as meetings
from service.models import Scan
from service.models.checkins import ScanOutcome
from service.pagination import DEFAULT_LIMIT, InvalidCursor, page_of
from service.participants.schemas import participant_out
from service.schemas import Limit, Page, model_response

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
        **problem_responses(
            NotFound, events.EventNotAllowed, service.NonceReused, service.ScanTimeRefused
        ),
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
    event_id: uuid.UUID,
    body: CheckInIn,
    principal: KioskKey,
    request: Request,
    taxonomy: TaxonomyDep,
) -> Response:
    state = request.app.state
    settings: Settings = state.settings
    clock = service.DoorClock(
        skew=timedelta(seconds=settings.checkin_clock_skew_seconds),
        grace=timedelta(hours=settings.checkin_grace_hours),
    )
    # The route opens its own transaction, committed before the answer is sent: on PostgreSQL
    # the driver's, without a session (the door's statements go to asyncpg), else a session's.
    # Refusals are answered, not raised: the failed scan commits with the request.
    scan: service.ScanAtDoor = {
        "event_id": event_id,
        "badge_code": body.badge_code,
        "nonce": body.nonce,
        "scanned_at": body.scanned_at,
        "principal": principal,
        "clock": clock,
    }
    if state.engine.dialect.name == "postgresql":
        async with driver_transaction(state.statement_connections) as driver:
            found = await service.check_in_at_door(driver, **scan, taxonomy=taxonomy)
        return _answer(request, found)
    async with state.sessionmaker.begin() as session:
        found = await service.check_in(session, **scan)
        # A replayed check-in of a person removed since finds nobody: an unknown badge.
        if found.outcome in service.SUCCESSFUL and found.person is not None:
            answer = await _answer_from_orm(session, found, principal, taxonomy)
            found = replace(found, answer=answer)
    return _answer(request, found)


async def _answer_from_orm(
    session: AsyncSession, scan: service.ScanResult, principal: Principal, taxonomy: Taxonomy
) -> CheckInOut:
    """The answer to a successful scan of the ORM's path: the participant and their agenda."""
    assert scan.event is not None and scan.participant is not None and scan.person is not None
    arrived, present = await service.arrivals(session, participant_ids=[scan.participant.id])
    participant = participant_out(
        scan.participant, principal, arrived.get(scan.participant.id), present
    )
    return CheckInOut(
        reason=None if scan.outcome == "checked_in" else "already_checked_in",
        checked_in_at=scan.checked_in_at,
        participant=participant,
        agenda=await meetings.agenda(
            session,
            event=scan.event,
            participant=scan.participant,
            taxonomy=taxonomy,
            schedule_id=await meetings.published_schedule_id(session, event_id=scan.event.id),
        ),
        person=next(p for p in participant.people if p.id == scan.person.id),
    )


def _answer(request: Request, scan: service.ScanResult) -> Response:
    """A scan's answer: the checked-in participant (201 the first time), or the refusal."""
    if scan.outcome == "event_not_open":
        state = "was not open" if scan.replayed else f"is {scan.event_state}"
        return render_problem(
            request,
            service.EventNotOpen(
                f"The event {state}; check-in opens when an organizer opens it.",
                reason="event_not_open",
            ),
        )
    if scan.outcome == "scan_time_refused":
        return render_problem(
            request,
            service.ScanTimeRefused(
                scan.detail,
                reason="scan_time_refused",
                errors=[{"field": "scanned_at", "message": "in the future or outside the event"}],
            ),
        )
    if scan.answer is None:
        return render_problem(
            request,
            service.UnknownBadge(
                f"No participant of this event has badge {scan.badge_code}.",
                reason="unknown_badge",
            ),
        )
    return model_response(scan.answer, status_code=201 if scan.outcome == "checked_in" else 200)


@router.post(
    "/checkins:undo",
    operation_id="undoCheckIn",
    summary="Reverse a check-in with a reason (admins; kiosk keys given `undo_checkin`)",
    responses=problem_responses(
        NotFound,
        events.EventNotAllowed,
        service.PermissionRequired,
        service.UnknownBadge,
        service.NotCheckedIn,
    ),
)
async def undo_check_in(
    event_id: uuid.UUID, body: CheckInUndo, principal: KioskKey, session: SessionDep
) -> CheckInUndone:
    undone = await service.undo_check_in(
        session,
        event_id=event_id,
        badge_code=body.badge_code,
        reason=body.reason,
        principal=principal,
    )
    arrived, present = await service.arrivals(session, participant_ids=[undone.participant.id])
    participant = participant_out(
        undone.participant, principal, arrived.get(undone.participant.id), present
    )
    return CheckInUndone(
        badge_code=undone.scan.badge_code,
        undone_checked_in_at=undone.checked_in_at,
        undone_at=undone.scan.scanned_at,
        reason=body.reason,
        by=undone.scan.kiosk_name,
        participant=participant,
        person=next(p for p in participant.people if p.id == undone.person.id),
    )


@router.get(
    "/checkins/status",
    operation_id="getCheckInStatus",
    summary="Parties and people registered, checked in and still expected, by kind of party",
    responses=problem_responses(NotFound, events.EventNotAllowed),
)
async def check_in_status(
    event_id: uuid.UUID, principal: KioskKey, session: SessionDep
) -> CheckInStatus:
    await events.get_event(session, event_id=event_id, principal=principal)
    counts = await service.status(session, event_id=event_id)

    def out(counts: service.Counts) -> StatusCounts:
        return StatusCounts(
            registered=counts.registered, checked_in=counts.checked_in, expected=counts.expected
        )

    return CheckInStatus(
        total=out(counts.parties),
        by_kind={k: out(c) for k, c in counts.parties_by_kind.items()},
        people=out(counts.people),
        people_by_kind={k: out(c) for k, c in counts.people_by_kind.items()},
    )


@router.get(
    "/scans",
    operation_id="listScans",
    summary="Every scan at the door, failed ones and undone check-ins included, newest last",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_scans(
    event_id: uuid.UUID,
    _: AdminKey,
    session: SessionDep,
    failed: Annotated[
        bool | None, Query(description="Only failed scans (true) or only successful ones (false).")
    ] = None,
    outcome: Annotated[
        ScanOutcome | None, Query(description="Only scans with this outcome.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ScanOut]:
    await events.get_event(session, event_id=event_id)
    stmt = select(Scan).where(Scan.event_id == event_id)
    if failed is not None:
        stmt = stmt.where(Scan.outcome.in_(service.FAILED if failed else service.SUCCESSFUL))
    if outcome is not None:
        stmt = stmt.where(Scan.outcome == outcome)
    render = partial(ScanOut.model_validate, from_attributes=True)
    return await page_of(session, stmt, Scan, render, limit=limit, cursor=cursor)
