"""Events and registrations over HTTP, with badges."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from service.auth.dependencies import AdminKey, AnyKey, PartnerKey
from service.auth.service import Principal
from service.badges import badge_png, badge_svg
from service.db import SessionDep
from service.directory.routes import IMPORT_BODY
from service.errors import (
    Forbidden,
    InUse,
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
    ParticipantImportResult,
    ParticipantIn,
    ParticipantOut,
    ParticipantPatch,
    Party,
    PersonOut,
)
from service.models import Event, Participant
from service.pagination import DEFAULT_LIMIT, InvalidCursor, fetch_page, page_of_ranked
from service.schemas import Limit, Page
from service.spreadsheets import UnreadableFile, read_table
from service.versions import IfMatch, etag

router = APIRouter(prefix="/v1/events", tags=["events"])


def event_out(event: Event) -> EventOut:
    """An event as the API shows it."""
    return EventOut.model_validate(event, from_attributes=True)


def is_own_party(principal: Principal, participant: Participant) -> bool:
    """Whether the key speaks for the participant's committee or organization."""
    return principal.is_party(
        committee_id=participant.committee_id, organization_id=participant.organization_id
    )


def participant_out(
    participant: Participant, principal: Principal, checked_in_at: datetime | None
) -> ParticipantOut:
    """A participant as this caller may see it: contacts and badge only where entitled."""
    private = principal.is_admin or is_own_party(principal, participant)
    sees_badge = private or principal.role == "kiosk"
    if participant.committee is not None:
        c = participant.committee
        party = Party(
            kind="committee",
            id=c.id,
            name_zh=c.name_zh,
            name_en=c.name_en,
            designation=c.designation,
        )
    else:
        o = participant.organization
        assert o is not None
        party = Party(kind=o.kind, id=o.id, name_zh=o.name_zh, name_en=o.name_en, designation=None)
    return ParticipantOut(
        id=participant.id,
        event_id=participant.event_id,
        party=party,
        badge_code=participant.badge_code if sees_badge else None,
        people=[
            PersonOut(
                name=p.name,
                title=p.title,
                phone=p.phone if private else None,
                email=p.email if private else None,
            )
            for p in participant.people
        ],
        unavailable_slots=participant.unavailable_slots,
        min_meetings=participant.min_meetings,
        max_meetings=participant.max_meetings,
        checked_in_at=checked_in_at,
        version=participant.version,
        created_at=participant.created_at,
    )


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
    items, next_cursor = await fetch_page(
        session, stmt, created_at=Event.created_at, record_id=Event.id, limit=limit, cursor=cursor
    )
    return Page(items=[event_out(e) for e in items], next_cursor=next_cursor)


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


# --- participants -------------------------------------------------------------------------------


@router.get(
    "/{event_id}/participants",
    operation_id="listParticipants",
    summary="List or search participants: either script, pinyin, initials, badge, phone tail",
    responses=problem_responses(NotFound, service.EventNotAllowed, InvalidCursor),
)
async def list_participants(
    event_id: uuid.UUID,
    principal: AnyKey,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="溫州 / 温州 / wenzhou / wz / badge code / last four phone digits; "
            "best match first.",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ParticipantOut]:
    await service.get_event(session, event_id=event_id, principal=principal)
    if q:
        items, next_cursor = page_of_ranked(
            await service.search_participants(session, event_id=event_id, query=q),
            query=q,
            limit=limit,
            cursor=cursor,
        )
    else:
        items, next_cursor = await fetch_page(
            session,
            service.participants_query(event_id),
            created_at=Participant.created_at,
            record_id=Participant.id,
            limit=limit,
            cursor=cursor,
        )
    arrived = await service.checked_in_times(session, participant_ids=[p.id for p in items])
    return Page(
        items=[participant_out(p, principal, arrived.get(p.id)) for p in items],
        next_cursor=next_cursor,
    )


@router.post(
    "/{event_id}/participants",
    status_code=status.HTTP_201_CREATED,
    operation_id="registerParticipant",
    summary="Register a committee or organization with its people",
    responses=problem_responses(
        NotFound, service.AlreadyRegistered, service.UnknownParty, service.SlotOutOfRange
    ),
)
async def register_participant(
    event_id: uuid.UUID,
    body: ParticipantIn,
    principal: AdminKey,
    session: SessionDep,
    response: Response,
) -> ParticipantOut:
    event = await service.get_event(session, event_id=event_id)
    participant = await service.register(session, event=event, data=body)
    response.headers["Location"] = f"/v1/events/{event_id}/participants/{participant.id}"
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, None)


@router.post(
    "/{event_id}/participants:import",
    operation_id="importParticipants",
    summary="Register from a CSV or XLSX roster (one row per person), all or nothing",
    openapi_extra=IMPORT_BODY,
    responses=problem_responses(NotFound, service.InvalidRegistrationRows, UnreadableFile),
)
async def import_participants(
    event_id: uuid.UUID, request: Request, _: AdminKey, session: SessionDep
) -> ParticipantImportResult:
    event = await service.get_event(session, event_id=event_id)
    rows = read_table(await request.body())
    created, updated = await service.import_participants(session, event=event, rows=rows)
    return ParticipantImportResult(created=created, updated=updated)


async def _visible_participant(
    session: SessionDep, principal: Principal, event_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    await service.get_event(session, event_id=event_id, principal=principal)
    return await service.get_participant(session, event_id=event_id, participant_id=participant_id)


@router.get(
    "/{event_id}/participants/{participant_id}",
    operation_id="getParticipant",
    summary="Read a participant",
    responses=problem_responses(NotFound, service.EventNotAllowed),
)
async def get_participant(
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    principal: AnyKey,
    session: SessionDep,
    response: Response,
) -> ParticipantOut:
    participant = await _visible_participant(session, principal, event_id, participant_id)
    arrived = await service.checked_in_times(session, participant_ids=[participant.id])
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, arrived.get(participant.id))


@router.patch(
    "/{event_id}/participants/{participant_id}",
    operation_id="updateParticipant",
    summary="Change people, availability or wanted meetings (own party or admin)",
    responses=problem_responses(
        NotFound, Forbidden, service.SlotOutOfRange, PreconditionFailed, PreconditionRequired
    ),
)
async def update_participant(
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    body: ParticipantPatch,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ParticipantOut:
    event = await service.get_event(session, event_id=event_id)
    current = await service.get_participant(
        session, event_id=event_id, participant_id=participant_id
    )
    if not (principal.is_admin or is_own_party(principal, current)):
        raise Forbidden("A partner key may change only its own registration.")
    participant = await service.update_participant(
        session, event=event, participant_id=participant_id, patch=body, if_match=if_match
    )
    arrived = await service.checked_in_times(session, participant_ids=[participant.id])
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, arrived.get(participant.id))


@router.delete(
    "/{event_id}/participants/{participant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="unregisterParticipant",
    summary="Remove a registration nothing refers to",
    responses=problem_responses(NotFound, InUse, PreconditionFailed, PreconditionRequired),
)
async def unregister_participant(
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    _: AdminKey,
    session: SessionDep,
    if_match: IfMatch = None,
) -> None:
    await service.unregister(
        session, event_id=event_id, participant_id=participant_id, if_match=if_match
    )


BADGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}, "image/png": {}}, "description": "The badge's QR code."}
}


async def _badge_participant(
    session: SessionDep, principal: Principal, event_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    participant = await _visible_participant(session, principal, event_id, participant_id)
    if not (
        principal.is_admin or principal.role == "kiosk" or is_own_party(principal, participant)
    ):
        # The code checks the party in: to anyone else the badge does not exist.
        raise NotFound(f"No participant {participant_id} in event {event_id}.")
    return participant


@router.get(
    "/{event_id}/participants/{participant_id}/badge.svg",
    operation_id="getBadgeSvg",
    summary="The badge's QR code as SVG, for printing",
    response_class=Response,
    responses={**BADGE_RESPONSES, **problem_responses(NotFound)},
)
async def badge_as_svg(
    event_id: uuid.UUID, participant_id: uuid.UUID, principal: AnyKey, session: SessionDep
) -> Response:
    participant = await _badge_participant(session, principal, event_id, participant_id)
    caption = " · ".join([*service.party_names(participant)[:1], participant.badge_code])
    return Response(badge_svg(participant.badge_code, caption=caption), media_type="image/svg+xml")


@router.get(
    "/{event_id}/participants/{participant_id}/badge.png",
    operation_id="getBadgePng",
    summary="The badge's QR code as PNG",
    response_class=Response,
    responses={**BADGE_RESPONSES, **problem_responses(NotFound)},
)
async def badge_as_png(
    event_id: uuid.UUID, participant_id: uuid.UUID, principal: AnyKey, session: SessionDep
) -> Response:
    participant = await _badge_participant(session, principal, event_id, participant_id)
    return Response(badge_png(participant.badge_code), media_type="image/png")
