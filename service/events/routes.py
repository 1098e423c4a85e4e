"""Events and registrations over HTTP, with badges."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from service.auth.dependencies import AdminKey, PartnerKey
from service.db import SessionDep
from service.errors import (
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    problem_responses,
)
from service.events import service
from service.events.schemas import (
    EventIn,
    EventOut,
    EventPatch,
)
from service.models import Event
from service.pagination import DEFAULT_LIMIT, InvalidCursor, page_of
from service.schemas import Limit, Page
from service.versions import IfMatch, etag

router = APIRouter(prefix="/v1/events", tags=["events"])


def event_out(event: Event) -> EventOut:
    """An event as the API shows it."""
    return EventOut.model_validate(event, from_attributes=True)


@router.get(
    "", operation_id="listEvents", summary="List events", responses=problem_responses(InvalidCursor)
)
async def list_events(
    _: PartnerKey,
    session: SessionDep,
    state: Annotated[str | None, Query(pattern="^(draft|open|closed)$")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventOut]:
    stmt = select(Event)
    if state:
        stmt = stmt.where(Event.state == state)
    return await page_of(session, stmt, Event, event_out, limit=limit, cursor=cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="createEvent",
    summary="Create an event",
    responses=problem_responses(),
)
async def create_event(
    body: EventIn, _: AdminKey, session: SessionDep, response: Response
) -> EventOut:
    event = await service.create_event(session, data=body)
    response.headers["Location"] = f"/v1/events/{event.id}"
    response.headers["ETag"] = etag(event.version)
    return event_out(event)


@router.get(
    "/{event_id}",
    operation_id="getEvent",
    summary="Read an event",
    responses=problem_responses(NotFound),
)
async def get_event(
    event_id: uuid.UUID, _: PartnerKey, session: SessionDep, response: Response
) -> EventOut:
    event = await service.get_event(session, event_id=event_id)
    response.headers["ETag"] = etag(event.version)
    return event_out(event)


@router.patch(
    "/{event_id}",
    operation_id="updateEvent",
    summary="Change an event; set `state` to open it for check-in or close it",
    responses=problem_responses(
        NotFound, service.EventHasCheckIns, PreconditionFailed, PreconditionRequired
    ),
)
async def update_event(
    event_id: uuid.UUID,
    body: EventPatch,
    _: AdminKey,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> EventOut:
    event = await service.update_event(session, event_id=event_id, patch=body, if_match=if_match)
    response.headers["ETag"] = etag(event.version)
    return event_out(event)


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteEvent",
    summary="Delete an event nobody has checked in to",
    responses=problem_responses(
        NotFound, service.EventHasCheckIns, PreconditionFailed, PreconditionRequired
    ),
)
async def delete_event(
    event_id: uuid.UUID, _: AdminKey, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_event(session, event_id=event_id, if_match=if_match)
