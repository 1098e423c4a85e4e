"""Participants over HTTP: registration, rosters, the kiosk's search, badges."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from service.auth.dependencies import AdminKey, AnyKey, KioskKey, PartnerKey
from service.auth.service import Principal
from service.badges import badge_png, badge_svg
from service.checkins import service as checkins
from service.db import SessionDep
from service.directory.taxonomy import TaxonomyDep
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
from service.models import Participant, Person
from service.pagination import DEFAULT_LIMIT, InvalidCursor, fetch_page, page_of_ranked
from service.participants import service
from service.participants.schemas import (
    ParticipantImportResult,
    ParticipantIn,
    ParticipantOut,
    ParticipantPatch,
    WalkInBadge,
    WalkInIn,
    WalkInOut,
    participant_out,
)
from service.schemas import Limit, Page
from service.spreadsheets import (
    IMPORT_BODY,
    FileTooLarge,
    UnreadableFile,
    read_upload,
    uploaded_file,
)
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
    arrived, present = await checkins.arrivals(session, participant_ids=[p.id for p in items])
    return Page(
        items=[participant_out(p, principal, arrived.get(p.id), present) for p in items],
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
    "/{event_id}/walk-ins",
    status_code=status.HTTP_201_CREATED,
    operation_id="registerWalkIn",
    response_model=WalkInOut,
    summary="Register people at the door: find or create their organization, register it, "
    "badge them (admins; kiosk keys of the event given `walk_in`)",
    responses={
        200: {"model": WalkInOut, "description": "Everyone was already registered."},
        **problem_responses(
            NotFound, events.EventNotAllowed, checkins.PermissionRequired, service.AlreadyRegistered
        ),
    },
)
async def register_walk_in(
    event_id: uuid.UUID,
    body: WalkInIn,
    principal: KioskKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
) -> JSONResponse:
    event = await events.get_event(session, event_id=event_id, principal=principal)
    if not (principal.is_admin or (principal.may("walk_in") and principal.event_id == event_id)):
        raise checkins.PermissionRequired(
            "Registering walk-ins needs an admin key, or a kiosk key of this event created "
            "with walk_in.",
            permission="walk_in",
        )
    walk_in = await service.walk_in(session, event=event, data=body, taxonomy=taxonomy)
    participant = walk_in.participant
    arrived, present = await checkins.arrivals(session, participant_ids=[participant.id])
    url = f"/v1/events/{event_id}/participants/{participant.id}"
    answer = WalkInOut(
        organization_created=walk_in.organization_created,
        participant_created=walk_in.participant_created,
        people_created=walk_in.people_created,
        participant=participant_out(participant, principal, arrived.get(participant.id), present),
        badges=[
            WalkInBadge(
                person_id=p.id,
                name=p.name,
                badge_code=p.badge_code,
                badge_svg=f"{url}/people/{p.id}/badge.svg",
                badge_png=f"{url}/people/{p.id}/badge.png",
            )
            for p in walk_in.people
        ],
    )
    created = walk_in.participant_created or walk_in.people_created > 0
    return JSONResponse(
        answer.model_dump(mode="json"),
        status_code=201 if created else 200,
        headers={"Location": url, "ETag": etag(participant.version)},
    )


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
    rows = await read_upload(await uploaded_file(request))
    created, updated, unchanged = await service.import_participants(session, event=event, rows=rows)
    return ParticipantImportResult(created=created, updated=updated, unchanged=unchanged)


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
    arrived, present = await checkins.arrivals(session, participant_ids=[participant.id])
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, arrived.get(participant.id), present)


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
    arrived, present = await checkins.arrivals(session, participant_ids=[participant.id])
    response.headers["ETag"] = etag(participant.version)
    return participant_out(participant, principal, arrived.get(participant.id), present)


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
    event_id: uuid.UUID, participant_id: uuid.UUID, principal: AnyKey, session: SessionDep
) -> Participant:
    participant = await _visible_participant(session, principal, event_id, participant_id)
    if not (principal.is_admin or principal.role == "kiosk" or principal.speaks_for(participant)):
        # The code checks the party in: to anyone else the badge does not exist.
        raise NotFound(f"No participant {participant_id} in event {event_id}.")
    return participant


async def _badge_person(
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    person_id: uuid.UUID,
    principal: AnyKey,
    session: SessionDep,
) -> tuple[Participant, Person]:
    # Its own path parameters, not _badge_participant's as a sub-dependency: they keep their order.
    participant = await _badge_participant(event_id, participant_id, principal, session)
    person = next((p for p in participant.people if p.id == person_id), None)
    if person is None:
        raise NotFound(f"No person {person_id} in participant {participant_id}.")
    return participant, person


BadgeParticipant = Annotated[Participant, Depends(_badge_participant)]
BadgePerson = Annotated[tuple[Participant, Person], Depends(_badge_person)]


def _svg(code: str, *names: str) -> Response:
    """A badge as SVG, for printing, captioned with these names and its code."""
    caption = " · ".join([*names, code])
    return Response(badge_svg(code, caption=caption), media_type="image/svg+xml")


def _png(code: str) -> Response:
    return Response(badge_png(code), media_type="image/png")


@router.get(
    "/{event_id}/participants/{participant_id}/badge.svg",
    operation_id="getBadgeSvg",
    summary="The party's badge (its first person's) as SVG, for printing",
    response_class=Response,
    responses={**BADGE_RESPONSES, **problem_responses(NotFound)},
)
async def badge_as_svg(participant: BadgeParticipant) -> Response:
    return _svg(participant.badge_code, *participant.party_names[:1])


@router.get(
    "/{event_id}/participants/{participant_id}/badge.png",
    operation_id="getBadgePng",
    summary="The badge's QR code as PNG",
    response_class=Response,
    responses={**BADGE_RESPONSES, **problem_responses(NotFound)},
)
async def badge_as_png(participant: BadgeParticipant) -> Response:
    return _png(participant.badge_code)


@router.get(
    "/{event_id}/participants/{participant_id}/people/{person_id}/badge.svg",
    operation_id="getPersonBadgeSvg",
    summary="A person's own badge as SVG, for printing: it checks that person in",
    response_class=Response,
    responses={**BADGE_RESPONSES, **problem_responses(NotFound)},
)
async def person_badge_as_svg(badge: BadgePerson) -> Response:
    participant, person = badge
    return _svg(person.badge_code, person.name, *participant.party_names[:1])


@router.get(
    "/{event_id}/participants/{participant_id}/people/{person_id}/badge.png",
    operation_id="getPersonBadgePng",
    summary="A person's own badge as PNG",
    response_class=Response,
    responses={**BADGE_RESPONSES, **problem_responses(NotFound)},
)
async def person_badge_as_png(badge: BadgePerson) -> Response:
    _, person = badge
    return _png(person.badge_code)
