"""Participants over HTTP: registration, rosters, the kiosk's search, badges."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from service.auth.dependencies import AdminKey, AnyKey, PartnerKey
from service.auth.service import Principal
from service.badges import badge_png, badge_svg
from service.checkins import service as checkins
from service.db import SessionDep
from service.errors import (
    Forbidden,
    InUse,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    SlotOutOfRange,
    UnknownParty,
    problem_responses,
)
from service.events import service as events
from service.models import Participant
from service.pagination import DEFAULT_LIMIT, InvalidCursor, fetch_page, page_of_ranked
from service.participants import service
from service.participants.schemas import (
    ParticipantImportResult,
    ParticipantIn,
    ParticipantOut,
    ParticipantPatch,
    participant_out,
)
from service.schemas import Limit, Page
from service.spreadsheets import IMPORT_BODY, FileTooLarge, UnreadableFile, read_upload
from service.versions import IfMatch, etag

# Tagged with the events they belong to; the contract groups them there.
router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get(
    "/{event_id}/participants",
    operation_id="listParticipants",
    summary="List or search participants: either script, pinyin, initials, badge, phone tail",
    responses=problem_responses(NotFound, events.EventNotAllowed, InvalidCursor),
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
            description="溫州 / 温州 / wenzhou / wz / badge code / last four phone digits "
            "(admin and kiosk keys only); best match first.",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ParticipantOut]:
    await events.get_event(session, event_id=event_id, principal=principal)
    if q:
        items, next_cursor = page_of_ranked(
            await service.search_participants(
                session,
                event_id=event_id,
                query=q,
                phone_tails=principal.role in ("admin", "kiosk"),
            ),
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
    arrived = await checkins.checked_in_times(session, participant_ids=[p.id for p in items])
    return Page(
        items=[participant_out(p, principal, arrived.get(p.id)) for p in items],
        next_cursor=next_cursor,
    )


@router.post(
    "/{event_id}/participants",
    status_code=status.HTTP_201_CREATED,
    operation_id="registerParticipant",
    summary="Register a committee or organization with its people",
    responses=problem_responses(NotFound, service.AlreadyRegistered, UnknownParty, SlotOutOfRange),
)
async def register_participant(
    event_id: uuid.UUID,
    body: ParticipantIn,
    principal: AdminKey,
    session: SessionDep,
    response: Response,
) -> ParticipantOut:
    event = await events.get_event(session, event_id=event_id)
    participant = await service.register(session, event=event, data=body)
    response.headers["Location"] = f"/v1/events/{event_id}/participants/{participant.id}"
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, None)


@router.post(
    "/{event_id}/participants:import",
    operation_id="importParticipants",
    summary="Register from a CSV or XLSX roster (one row per person), all or nothing",
    openapi_extra=IMPORT_BODY,
    responses=problem_responses(
        NotFound, service.InvalidRegistrationRows, UnreadableFile, FileTooLarge
    ),
)
async def import_participants(
    event_id: uuid.UUID, request: Request, _: AdminKey, session: SessionDep
) -> ParticipantImportResult:
    event = await events.get_event(session, event_id=event_id)
    rows = await read_upload(await request.body())
    created, updated = await service.import_participants(session, event=event, rows=rows)
    return ParticipantImportResult(created=created, updated=updated)


async def _visible_participant(
    session: SessionDep, principal: Principal, event_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    await events.get_event(session, event_id=event_id, principal=principal)
    return await service.get_participant(session, event_id=event_id, participant_id=participant_id)


@router.get(
    "/{event_id}/participants/{participant_id}",
    operation_id="getParticipant",
    summary="Read a participant",
    responses=problem_responses(NotFound, events.EventNotAllowed),
)
async def get_participant(
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    principal: AnyKey,
    session: SessionDep,
    response: Response,
) -> ParticipantOut:
    participant = await _visible_participant(session, principal, event_id, participant_id)
    arrived = await checkins.checked_in_times(session, participant_ids=[participant.id])
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, arrived.get(participant.id))


@router.patch(
    "/{event_id}/participants/{participant_id}",
    operation_id="updateParticipant",
    summary="Change people, availability or wanted meetings (own party or admin)",
    responses=problem_responses(
        NotFound, Forbidden, SlotOutOfRange, PreconditionFailed, PreconditionRequired
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
    event = await events.get_event(session, event_id=event_id)
    current = await service.get_participant(
        session, event_id=event_id, participant_id=participant_id
    )
    if not (principal.is_admin or principal.speaks_for(current)):
        raise Forbidden("A partner key may change only its own registration.")
    participant = await service.update_participant(
        session, event=event, participant_id=participant_id, patch=body, if_match=if_match
    )
    arrived = await checkins.checked_in_times(session, participant_ids=[participant.id])
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
    if not (principal.is_admin or principal.role == "kiosk" or principal.speaks_for(participant)):
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
    caption = " · ".join([*participant.party_names[:1], participant.badge_code])
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
