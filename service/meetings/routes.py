"""Meeting requests, preferences, meetings and agendas over HTTP."""

import uuid
from functools import partial
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import or_, select

from service.auth.dependencies import AdminKey, AnyKey, KioskKey, PartnerKey, TableHostKey
from service.auth.service import Principal
from service.checkins import service as checkins
from service.db import SessionDep
from service.directory.taxonomy import TaxonomyDep
from service.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    SlotOutOfRange,
    problem_responses,
)
from service.events import service as events
from service.meetings import service
from service.meetings.schemas import (
    Agenda,
    AgendaEntry,
    AgendaPerson,
    MeetingChangeOut,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    MeetingRequestAction,
    MeetingRequestIn,
    MeetingRequestOut,
    MeetingStatus,
    ParticipantAgenda,
    PreferenceIn,
    PreferenceOut,
    RequestState,
)
from service.models import Event, Meeting, MeetingRequest, Participant, Preference
from service.pagination import DEFAULT_LIMIT, InvalidCursor, fetch_page, page_of
from service.participants.service import get_participant, parties_query
from service.schedules.service import committee_tables
from service.schemas import Limit, Page
from service.versions import IfMatch, etag

router = APIRouter(prefix="/v1/events/{event_id}", tags=["meetings"])
templates = Environment(loader=PackageLoader("service.meetings"), autoescape=select_autoescape())


def request_out(request: MeetingRequest) -> MeetingRequestOut:
    return MeetingRequestOut.model_validate(request, from_attributes=True)


@router.post(
    "/meeting-requests",
    status_code=status.HTTP_201_CREATED,
    operation_id="createMeetingRequest",
    summary="Ask a counterpart for a meeting",
    responses=problem_responses(
        NotFound, service.NotRegistered, service.NotCounterparts, service.RequestExists
    ),
)
async def create_meeting_request(
    event_id: uuid.UUID,
    body: MeetingRequestIn,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
) -> MeetingRequestOut:
    event = await events.get_event(session, event_id=event_id)
    request = await service.create_request(session, event=event, data=body, principal=principal)
    response.headers["Location"] = f"/v1/events/{event_id}/meeting-requests/{request.id}"
    response.headers["ETag"] = etag(request.version)
    return request_out(request)


@router.get(
    "/meeting-requests",
    operation_id="listMeetingRequests",
    summary="Meeting requests the caller's party takes part in (all, for admins)",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_meeting_requests(
    event_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    state: RequestState | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MeetingRequestOut]:
    await events.get_event(session, event_id=event_id)
    own = await service.visible_participant_ids(session, event_id=event_id, principal=principal)
    stmt = service.requests_query(event_id, own, state)
    return await page_of(session, stmt, MeetingRequest, request_out, limit=limit, cursor=cursor)


@router.get(
    "/meeting-requests/{request_id}",
    operation_id="getMeetingRequest",
    summary="Read a meeting request",
    responses=problem_responses(NotFound),
)
async def get_meeting_request(
    event_id: uuid.UUID,
    request_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
) -> MeetingRequestOut:
    request, _, _ = await service.visible_request(
        session, event_id=event_id, request_id=request_id, principal=principal
    )
    response.headers["ETag"] = etag(request.version)
    return request_out(request)


@router.post(
    "/meeting-requests/{request_id}:respond",
    operation_id="respondToMeetingRequest",
    summary="Accept or decline (recipient) or withdraw (sender) a pending request",
    responses=problem_responses(
        NotFound, Forbidden, service.RequestClosed, PreconditionFailed, PreconditionRequired
    ),
)
async def respond_to_meeting_request(
    event_id: uuid.UUID,
    request_id: uuid.UUID,
    body: MeetingRequestAction,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingRequestOut:
    request = await service.act_on_request(
        session,
        event_id=event_id,
        request_id=request_id,
        action=body.action,
        principal=principal,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(request.version)
    return request_out(request)


# --- preferences --------------------------------------------------------------------------------


@router.post(
    "/preferences",
    operation_id="setPreference",
    summary="Mark a counterpart must-meet, would-like or do-not-meet (201 new, 200 changed)",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PreferenceOut, "description": "An existing preference, changed."},
        **problem_responses(NotFound, Forbidden, service.NotRegistered, service.NotCounterparts),
    },
)
async def set_preference(
    event_id: uuid.UUID,
    body: PreferenceIn,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
) -> PreferenceOut:
    event = await events.get_event(session, event_id=event_id)
    preference, created = await service.set_preference(
        session, event=event, data=body, principal=principal
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/events/{event_id}/preferences/{preference.id}"
    response.headers["ETag"] = etag(preference.version)
    return PreferenceOut.model_validate(preference, from_attributes=True)


@router.get(
    "/preferences",
    operation_id="listPreferences",
    summary="Preferences of the caller's party (all, for admins)",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_preferences(
    event_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[PreferenceOut]:
    await events.get_event(session, event_id=event_id)
    own = await service.visible_participant_ids(session, event_id=event_id, principal=principal)
    stmt = select(Preference).where(Preference.event_id == event_id)
    if own is not None:
        stmt = stmt.where(Preference.participant_id.in_(own))
    render = partial(PreferenceOut.model_validate, from_attributes=True)
    return await page_of(session, stmt, Preference, render, limit=limit, cursor=cursor)


@router.get(
    "/preferences/{preference_id}",
    operation_id="getPreference",
    summary="Read a preference of the caller's party",
    responses=problem_responses(NotFound),
)
async def get_preference(
    event_id: uuid.UUID,
    preference_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
) -> PreferenceOut:
    preference = await service.visible_preference(
        session, event_id=event_id, preference_id=preference_id, principal=principal
    )
    response.headers["ETag"] = etag(preference.version)
    return PreferenceOut.model_validate(preference, from_attributes=True)


@router.delete(
    "/preferences/{preference_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deletePreference",
    summary="Forget a preference, at the version read (If-Match)",
    responses=problem_responses(NotFound, PreconditionFailed, PreconditionRequired),
)
async def delete_preference(
    event_id: uuid.UUID,
    preference_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    if_match: IfMatch = None,
) -> None:
    await service.delete_preference(
        session,
        event_id=event_id,
        preference_id=preference_id,
        principal=principal,
        if_match=if_match,
    )


# --- meetings -----------------------------------------------------------------------------------


def meeting_out(
    meeting: Meeting, event: Event, names: dict[uuid.UUID, dict[str, Any]]
) -> MeetingOut:
    start, end = events.slot_times(event)[meeting.slot - 1]
    return MeetingOut(
        id=meeting.id,
        event_id=meeting.event_id,
        schedule_id=meeting.schedule_id,
        committee=names[meeting.committee_participant_id],
        organization=names[meeting.organization_participant_id],
        slot=meeting.slot,
        start=start,
        end=end,
        table=meeting.table_number,
        status=meeting.status,
        locked=meeting.locked,
        notes=meeting.notes,
        weight=meeting.weight,
        version=meeting.version,
    )


@router.get(
    "/meetings",
    operation_id="listMeetings",
    summary="Meetings of the published schedule (or the draft), by party, slot and status",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_meetings(
    event_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    schedule: Annotated[str, Query(pattern="^(published|draft)$")] = "published",
    participant_id: Annotated[
        uuid.UUID | None, Query(description="Meetings of this party.")
    ] = None,
    slot: Annotated[int | None, Query(ge=1, le=64)] = None,
    status_: Annotated[MeetingStatus | None, Query(alias="status")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MeetingOut]:
    event = await events.get_event(session, event_id=event_id)
    current = await service.current_schedule(session, event_id=event_id, state=schedule)
    if current is None or (schedule == "draft" and not principal.is_admin):
        return Page(items=[], next_cursor=None)
    stmt = select(Meeting).where(Meeting.schedule_id == current.id)
    own = await service.visible_participant_ids(session, event_id=event_id, principal=principal)
    if own is not None:
        stmt = stmt.where(
            or_(
                Meeting.committee_participant_id.in_(own),
                Meeting.organization_participant_id.in_(own),
            )
        )
    if participant_id is not None:
        stmt = stmt.where(
            or_(
                Meeting.committee_participant_id == participant_id,
                Meeting.organization_participant_id == participant_id,
            )
        )
    if slot is not None:
        stmt = stmt.where(Meeting.slot == slot)
    if status_ is not None:
        stmt = stmt.where(Meeting.status == status_)
    names = await service.names_by_participant(session, event_id=event_id)
    render = partial(meeting_out, event=event, names=names)
    return await page_of(session, stmt, Meeting, render, limit=limit, cursor=cursor)


@router.post(
    "/meetings",
    status_code=status.HTTP_201_CREATED,
    operation_id="addMeeting",
    summary="Place a meeting by hand; 409 when it would double-book",
    responses=problem_responses(
        NotFound,
        service.DoubleBooked,
        service.NoSchedule,
        SlotOutOfRange,
        service.NotRegistered,
        service.NotCounterparts,
    ),
)
async def add_meeting(
    event_id: uuid.UUID,
    body: MeetingIn,
    principal: AdminKey,
    session: SessionDep,
    response: Response,
) -> MeetingOut:
    event = await events.get_event(session, event_id=event_id)
    tables = await committee_tables(session, event=event)
    meeting = await service.add_meeting(
        session, event=event, data=body, principal=principal, committee_tables=tables
    )
    response.headers["Location"] = f"/v1/events/{event_id}/meetings/{meeting.id}"
    response.headers["ETag"] = etag(meeting.version)
    return meeting_out(
        meeting, event, await service.names_by_participant(session, event_id=event_id)
    )


async def _visible_meeting(
    session: SessionDep, principal: Principal, event_id: uuid.UUID, meeting_id: uuid.UUID
) -> Meeting:
    meeting = await service.get_meeting(session, event_id=event_id, meeting_id=meeting_id)
    own = await service.visible_participant_ids(session, event_id=event_id, principal=principal)
    if own is not None and not {
        meeting.committee_participant_id,
        meeting.organization_participant_id,
    } & set(own):
        raise NotFound(f"No meeting {meeting_id} in event {event_id}.")
    return meeting


@router.get(
    "/meetings/{meeting_id}",
    operation_id="getMeeting",
    summary="Read a meeting",
    responses=problem_responses(NotFound),
)
async def get_meeting(
    event_id: uuid.UUID,
    meeting_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    response: Response,
) -> MeetingOut:
    event = await events.get_event(session, event_id=event_id)
    meeting = await _visible_meeting(session, principal, event_id, meeting_id)
    response.headers["ETag"] = etag(meeting.version)
    return meeting_out(
        meeting, event, await service.names_by_participant(session, event_id=event_id)
    )


@router.patch(
    "/meetings/{meeting_id}",
    operation_id="updateMeeting",
    summary="Move a meeting or record it held, no-show or cancelled, with notes; If-Match required "
    "(table hosts: only `status` held or no_show, at their event)",
    responses=problem_responses(
        NotFound,
        events.EventNotAllowed,
        service.TableHostMarksOnly,
        service.DoubleBooked,
        SlotOutOfRange,
        PreconditionFailed,
        PreconditionRequired,
    ),
)
async def update_meeting(
    event_id: uuid.UUID,
    meeting_id: uuid.UUID,
    body: MeetingPatch,
    principal: TableHostKey,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingOut:
    event = await events.get_event(session, event_id=event_id, principal=principal)
    if principal.role == "table_host" and (
        body.model_fields_set != {"status"} or body.status not in ("held", "no_show")
    ):
        raise service.TableHostMarksOnly(
            "A table host key marks a meeting held or no-show (`status` alone) and changes "
            "nothing else.",
            errors=[
                {"field": f, "message": "not for table hosts"}
                for f in sorted(body.model_fields_set - {"status"})
            ]
            or [{"field": "status", "message": "must be held or no_show"}],
        )
    meeting = await service.update_meeting(
        session,
        event=event,
        meeting_id=meeting_id,
        patch=body,
        principal=principal,
        if_match=if_match,
    )
    response.headers["ETag"] = etag(meeting.version)
    return meeting_out(
        meeting, event, await service.names_by_participant(session, event_id=event_id)
    )


@router.get(
    "/meetings/{meeting_id}/history",
    operation_id="getMeetingHistory",
    summary="Every change of a meeting: status, place, who and when",
    responses=problem_responses(NotFound),
)
async def meeting_history(
    event_id: uuid.UUID, meeting_id: uuid.UUID, principal: PartnerKey, session: SessionDep
) -> list[MeetingChangeOut]:
    await _visible_meeting(session, principal, event_id, meeting_id)
    return [
        MeetingChangeOut(
            from_status=c.from_status,
            to_status=c.to_status,
            slot=c.slot,
            table=c.table_number,
            note=c.note,
            actor_key_id=c.actor_key_id,
            actor_name=c.actor_name,
            at=c.created_at,
        )
        for c in await service.meeting_changes(session, meeting_id=meeting_id)
    ]


# --- agendas ------------------------------------------------------------------------------------


@router.get(
    "/agendas",
    operation_id="listAgendas",
    summary="Every participant's published meetings, a page at a time, for the door's roster",
    description="The agenda's meetings of each participant of the event, in the order of "
    "`listParticipants`: what a kiosk keeps to answer offline, in a few requests rather than "
    "one per participant. Admin and kiosk keys.",
    responses=problem_responses(NotFound, events.EventNotAllowed, InvalidCursor),
)
async def list_agendas(
    event_id: uuid.UUID,
    principal: KioskKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ParticipantAgenda]:
    event = await events.get_event(session, event_id=event_id, principal=principal)
    participants, next_cursor = await fetch_page(
        session,
        parties_query(event_id),
        created_at=Participant.created_at,
        record_id=Participant.id,
        limit=limit,
        cursor=cursor,
    )
    published = await service.published_schedule_id(session, event_id=event_id)
    found = await service.agendas(
        session,
        event=event,
        participants=participants,
        taxonomy=taxonomy,
        schedule_id=published,
    )
    return Page(
        items=[
            ParticipantAgenda(
                participant_id=p.id,
                schedule_id=published,
                meetings=[AgendaEntry.model_validate(m) for m in found[p.id]],
            )
            for p in participants
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/participants/{participant_id}/agenda",
    operation_id="getAgenda",
    summary="A participant's published meetings; a printable bilingual page for Accept: text/html",
    responses={
        200: {"content": {"text/html": {}}, "description": "The agenda."},
        **problem_responses(NotFound, events.EventNotAllowed, service.NotOwnAgenda),
    },
)
async def get_agenda(
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    principal: AnyKey,
    session: SessionDep,
    request: Request,
    taxonomy: TaxonomyDep,
) -> Agenda:
    event = await events.get_event(session, event_id=event_id, principal=principal)
    participant = await get_participant(session, event_id=event_id, participant_id=participant_id)
    if principal.role == "partner" and not principal.speaks_for(participant):
        raise service.NotOwnAgenda(
            f"Participant {participant_id} is another party; a partner key reads only the agenda "
            "of its own party."
        )
    published = await service.published_schedule_id(session, event_id=event_id)
    _, present = await checkins.arrivals(session, participant_ids=[participant.id])
    agenda = Agenda(
        participant=service.party_name(participant),
        event_name_zh=event.name_zh,
        event_name_en=event.name_en,
        venue=event.venue,
        date=event.date,
        published=published is not None,
        meetings=await service.agenda(
            session, event=event, participant=participant, taxonomy=taxonomy, schedule_id=published
        ),
        people=[
            AgendaPerson(name=p.name, title=p.title, checked_in_at=present.get(p.id))
            for p in participant.people
        ],
    )
    if "text/html" in request.headers.get("accept", ""):
        zone = ZoneInfo(event.timezone)
        for entry in agenda.meetings:
            entry.start, entry.end = entry.start.astimezone(zone), entry.end.astimezone(zone)
        html = templates.get_template("agenda.html").render(agenda=agenda)
        return HTMLResponse(html)  # type: ignore[return-value]
    return agenda
