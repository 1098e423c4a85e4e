"""Who asks to meet whom, who prefers what, and the meetings themselves."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.service import Principal
from service.directory.taxonomy import Taxonomy
from service.errors import Conflict, Forbidden, NotFound, SlotOutOfRange, Unprocessable
from service.events import service as events
from service.meetings.schemas import MeetingIn, MeetingPatch, MeetingRequestIn, PreferenceIn
from service.models import (
    CommitteeDomain,
    Domain,
    Event,
    Meeting,
    MeetingChange,
    MeetingRequest,
    OrganizationDomain,
    Participant,
    Preference,
    Schedule,
)
from service.models.columns import utcnow
from service.participants.service import participants_query, parties_query
from service.statements import table_of
from service.versions import require_match, stamp_if_changed


class NotRegistered(Unprocessable):
    code, title = "not_registered", "Party is not registered for the event"


class NotCounterparts(Unprocessable):
    code, title = "not_counterparts", "Meetings are between a committee and an organization"


class RequestExists(Conflict):
    code, title = "request_exists", "Request already made"


class RequestClosed(Conflict):
    code, title = "request_closed", "Request no longer pending"


class DoubleBooked(Conflict):
    code, title = "double_booked", "Slot, table or party already taken"


class TableHostMarksOnly(Forbidden):
    code, title = "table_host_marks_only", "A table host only marks meetings held or no-show"


class NoSchedule(Conflict):
    code, title = "no_schedule", "No schedule to place meetings in"


class NotOwnAgenda(Forbidden):
    code, title = "not_own_agenda", "A partner reads only its own party's agenda"


async def _registered(
    session: AsyncSession, *, event_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    participant = await session.scalar(
        participants_query(event_id).where(Participant.id == participant_id)
    )
    if participant is None:
        raise NotRegistered(
            f"Participant {participant_id} is not registered for this event.",
            errors=[{"field": "participant", "message": "not registered for this event"}],
        )
    return participant


def _counterparts(a: Participant, b: Participant) -> tuple[Participant, Participant]:
    """The pair as (committee, organization); 422 for two of the same side."""
    if a.committee_id is not None and b.organization_id is not None:
        return a, b
    if b.committee_id is not None and a.organization_id is not None:
        return b, a
    raise NotCounterparts(
        "A meeting pairs a committee with an enterprise, association or institute."
    )


async def _actor_name(session: AsyncSession, principal: Principal) -> str | None:
    return principal.name


# --- requests -----------------------------------------------------------------------------------


async def create_request(
    session: AsyncSession, *, event: Event, data: MeetingRequestIn, principal: Principal
) -> MeetingRequest:
    """Ask for a meeting; a partner asks only in its own party's name."""
    sender = await _registered(session, event_id=event.id, participant_id=data.from_participant_id)
    recipient = await _registered(session, event_id=event.id, participant_id=data.to_participant_id)
    _counterparts(sender, recipient)
    if not (principal.is_admin or principal.speaks_for(sender)):
        raise Forbidden("A partner key asks for meetings only in its own party's name.")
    request = MeetingRequest(
        event_id=event.id,
        from_participant_id=sender.id,
        to_participant_id=recipient.id,
        message=data.message,
    )
    session.add(request)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise RequestExists("This party has already asked that counterpart for a meeting.") from exc
    return request


async def visible_request(
    session: AsyncSession, *, event_id: uuid.UUID, request_id: uuid.UUID, principal: Principal
) -> tuple[MeetingRequest, Participant, Participant]:
    """A request the caller may see; anyone else's answers 404 as if it did not exist."""
    request = await session.scalar(
        select(MeetingRequest).where(
            MeetingRequest.id == request_id, MeetingRequest.event_id == event_id
        )
    )
    if request is not None:
        sender = await _registered(
            session, event_id=event_id, participant_id=request.from_participant_id
        )
        recipient = await _registered(
            session, event_id=event_id, participant_id=request.to_participant_id
        )
        if principal.is_admin or principal.speaks_for(sender) or principal.speaks_for(recipient):
            return request, sender, recipient
    raise NotFound(f"No meeting request {request_id} in event {event_id}.")


async def act_on_request(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    request_id: uuid.UUID,
    action: str,
    principal: Principal,
    if_match: str | None,
) -> MeetingRequest:
    """Accept or decline (the recipient) or withdraw (the sender) a pending request."""
    request, sender, recipient = await visible_request(
        session, event_id=event_id, request_id=request_id, principal=principal
    )
    require_match(if_match, version=request.version)
    actor = sender if action == "withdraw" else recipient
    if not (principal.is_admin or principal.speaks_for(actor)):
        who = "sender" if action == "withdraw" else "recipient"
        raise Forbidden(f"Only the {who} may {action} this request.")
    if request.state != "pending":
        raise RequestClosed(f"The request is {request.state}; only pending requests change.")
    request.state = {"accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}[action]
    request.updated_at = utcnow()
    await session.flush()
    return request


async def visible_participant_ids(
    session: AsyncSession, *, event_id: uuid.UUID, principal: Principal
) -> list[uuid.UUID] | None:
    """The participants whose private records the caller sees: None means all (admins)."""
    if principal.is_admin:
        return None
    # Comparing with None would become IS NULL and match every party of the other kind.
    if principal.committee_id is not None:
        own = Participant.committee_id == principal.committee_id
    elif principal.organization_id is not None:
        own = Participant.organization_id == principal.organization_id
    else:
        return []
    rows = await session.scalars(
        select(Participant.id).where(Participant.event_id == event_id, own)
    )
    return list(rows.all())


def requests_query(
    event_id: uuid.UUID, own: list[uuid.UUID] | None, state: str | None
) -> Select[Any]:
    """The requests of an event, limited to those involving `own` participants when given."""
    stmt = select(MeetingRequest).where(MeetingRequest.event_id == event_id)
    if own is not None:
        stmt = stmt.where(
            or_(
                MeetingRequest.from_participant_id.in_(own),
                MeetingRequest.to_participant_id.in_(own),
            )
        )
    if state:
        stmt = stmt.where(MeetingRequest.state == state)
    return stmt


# --- preferences --------------------------------------------------------------------------------


async def set_preference(
    session: AsyncSession, *, event: Event, data: PreferenceIn, principal: Principal
) -> tuple[Preference, bool]:
    """Mark a counterpart must-meet, would-like or do-not-meet; (preference, created)."""
    owner = await _registered(session, event_id=event.id, participant_id=data.participant_id)
    counterpart = await _registered(session, event_id=event.id, participant_id=data.counterpart_id)
    _counterparts(owner, counterpart)
    if not (principal.is_admin or principal.speaks_for(owner)):
        raise Forbidden("A partner key sets only its own party's preferences.")
    preference = await _preference_of(session, owner.id, counterpart.id)
    if preference is None:
        preference = Preference(
            event_id=event.id,
            participant_id=owner.id,
            counterpart_id=counterpart.id,
            kind=data.kind,
        )
        try:
            # Added inside the savepoint: begin_nested flushes what is pending before it starts,
            # and a failed flush outside it would end the request's transaction.
            async with session.begin_nested():
                session.add(preference)
                await session.flush()
            return preference, True
        except IntegrityError:
            # Another request created it since the read above (the unique pair decides): this
            # one sets the winner's record, as it would have had it come second.
            preference = await _preference_of(session, owner.id, counterpart.id)
            if preference is None:
                raise
    if preference.kind != data.kind:  # the same kind again changes nothing, not its version
        preference.kind = data.kind
        preference.updated_at = utcnow()
        await session.flush()
    return preference, False


async def _preference_of(
    session: AsyncSession, participant_id: uuid.UUID, counterpart_id: uuid.UUID
) -> Preference | None:
    return await session.scalar(
        select(Preference)
        .where(
            Preference.participant_id == participant_id,
            Preference.counterpart_id == counterpart_id,
        )
        .with_for_update()
    )


async def visible_preference(
    session: AsyncSession, *, event_id: uuid.UUID, preference_id: uuid.UUID, principal: Principal
) -> Preference:
    """One preference of the caller's party (any, for admins); another party's answers 404."""
    own = await visible_participant_ids(session, event_id=event_id, principal=principal)
    preference = await session.get(Preference, preference_id)
    if (
        preference is None
        or preference.event_id != event_id
        or (own is not None and preference.participant_id not in own)
    ):
        raise NotFound(f"No preference {preference_id} in event {event_id}.")
    return preference


async def delete_preference(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    preference_id: uuid.UUID,
    principal: Principal,
    if_match: str | None,
) -> None:
    """Forget a preference, at the version the caller read."""
    preference = await visible_preference(
        session, event_id=event_id, preference_id=preference_id, principal=principal
    )
    require_match(if_match, version=preference.version)
    await session.delete(preference)
    await session.flush()


# --- meetings -----------------------------------------------------------------------------------


_SCHEDULES = table_of(Schedule)


def _newest_schedule(*what: Any) -> Select[Any]:
    return (
        select(*what)
        .where(
            _SCHEDULES.c.event_id == bindparam("event_id"), _SCHEDULES.c.state == bindparam("state")
        )
        .order_by(_SCHEDULES.c.created_at.desc(), _SCHEDULES.c.id)
        .limit(1)
    )


# Built once: every check-in asks for the agenda, which needs only the id (no object to load).
_CURRENT_SCHEDULE = _newest_schedule(Schedule)
_CURRENT_SCHEDULE_LOCKED = _CURRENT_SCHEDULE.with_for_update()
_CURRENT_SCHEDULE_ID = _newest_schedule(_SCHEDULES.c.id)


async def current_schedule(
    session: AsyncSession, *, event_id: uuid.UUID, state: str, lock: bool = False
) -> Schedule | None:
    """The published schedule, or the newest draft; locked for this transaction with `lock`."""
    schedule: Schedule | None = await session.scalar(
        _CURRENT_SCHEDULE_LOCKED if lock else _CURRENT_SCHEDULE,
        {"event_id": event_id, "state": state},
    )
    return schedule


async def _record_change(
    session: AsyncSession,
    *,
    meeting: Meeting,
    from_status: str | None,
    note: str,
    principal: Principal,
) -> None:
    session.add(
        MeetingChange(
            meeting_id=meeting.id,
            from_status=from_status,
            to_status=meeting.status,
            slot=meeting.slot,
            table_number=meeting.table_number,
            note=note,
            actor_key_id=principal.key_id,
            actor_name=await _actor_name(session, principal),
        )
    )


async def _flush_placement(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise DoubleBooked(
            "That would double-book a committee, an organization or a table in this slot, "
            "or the pair meets already."
        ) from exc


def _check_place(event: Event, slot: int, table: int) -> None:
    if slot > len(event.slots) or table > event.tables:
        raise SlotOutOfRange(
            f"The event has slots 1 to {len(event.slots)} and tables 1 to {event.tables}."
        )


async def add_meeting(
    session: AsyncSession,
    *,
    event: Event,
    data: MeetingIn,
    principal: Principal,
    committee_tables: dict[uuid.UUID, int],
) -> Meeting:
    """Place a meeting by hand in the published schedule, or the draft when none is published."""
    schedule = await current_schedule(session, event_id=event.id, state="published") or (
        await current_schedule(session, event_id=event.id, state="draft")
    )
    if schedule is None:
        raise NoSchedule("Build a schedule first (POST /v1/events/{id}/schedule).")
    committee = await _registered(
        session, event_id=event.id, participant_id=data.committee_participant_id
    )
    organization = await _registered(
        session, event_id=event.id, participant_id=data.organization_participant_id
    )
    committee, organization = _counterparts(committee, organization)
    table = data.table or committee_tables.get(committee.id)
    if table is None:
        raise SlotOutOfRange("Give a table: the committee has none of its own.")
    _check_place(event, data.slot, table)
    meeting = Meeting(
        event_id=event.id,
        schedule_id=schedule.id,
        committee_participant_id=committee.id,
        organization_participant_id=organization.id,
        slot=data.slot,
        table_number=table,
        locked=data.locked,
        notes=data.notes,
    )
    session.add(meeting)
    await _flush_placement(session)
    await _record_change(
        session, meeting=meeting, from_status=None, note=data.notes, principal=principal
    )
    await session.flush()
    return meeting


async def get_meeting(
    session: AsyncSession, *, event_id: uuid.UUID, meeting_id: uuid.UUID
) -> Meeting:
    """One meeting of the event; 404 when there is none."""
    meeting = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id, Meeting.event_id == event_id)
    )
    if meeting is None:
        raise NotFound(f"No meeting {meeting_id} in event {event_id}.")
    return meeting


async def update_meeting(
    session: AsyncSession,
    *,
    event: Event,
    meeting_id: uuid.UUID,
    patch: MeetingPatch,
    principal: Principal,
    if_match: str | None,
) -> Meeting:
    """Move a meeting, or record it held, no-show or cancelled; each change is kept."""
    meeting = await get_meeting(session, event_id=event.id, meeting_id=meeting_id)
    require_match(if_match, version=meeting.version)
    before = (meeting.status, meeting.slot, meeting.table_number)
    if patch.slot is not None:
        meeting.slot = patch.slot
    if patch.table is not None:
        meeting.table_number = patch.table
    _check_place(event, meeting.slot, meeting.table_number)
    if patch.status is not None:
        meeting.status = patch.status
    if patch.locked is not None:
        meeting.locked = patch.locked
    if patch.notes is not None:
        meeting.notes = patch.notes
    stamp_if_changed(session, meeting)
    await _flush_placement(session)
    if (meeting.status, meeting.slot, meeting.table_number) != before:
        await _record_change(
            session,
            meeting=meeting,
            from_status=before[0],
            note=patch.notes or "",
            principal=principal,
        )
        await session.flush()
    return meeting


async def meeting_changes(session: AsyncSession, *, meeting_id: uuid.UUID) -> list[MeetingChange]:
    """Every change of a meeting, oldest first."""
    rows = await session.scalars(
        select(MeetingChange)
        .where(MeetingChange.meeting_id == meeting_id)
        .order_by(MeetingChange.created_at, MeetingChange.id)
    )
    return list(rows.all())


# --- agendas ------------------------------------------------------------------------------------


def party_name(participant: Participant) -> dict[str, Any]:
    """The participant as a name in both languages."""
    return {
        "participant_id": participant.id,
        "name_zh": participant.party_names[0],
        "name_en": participant.party_name_en,
        # Committees go by their designation at the venue (ISO/IEC JTC 1/SC 41).
        "designation": participant.committee.designation if participant.committee else None,
    }


async def names_by_participant(
    session: AsyncSession, *, event_id: uuid.UUID
) -> dict[uuid.UUID, dict[str, Any]]:
    """Every participant of the event as a bilingual name."""
    rows = (await session.scalars(parties_query(event_id))).all()
    return {p.id: party_name(p) for p in rows}


async def published_schedule_id(session: AsyncSession, *, event_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the event's published schedule, if any (no object to load)."""
    schedule_id: uuid.UUID | None = await session.scalar(
        _CURRENT_SCHEDULE_ID, {"event_id": event_id, "state": "published"}
    )
    return schedule_id


async def agenda(
    session: AsyncSession,
    *,
    event: Event,
    participant: Participant,
    taxonomy: Taxonomy,
    schedule_id: uuid.UUID | None,
) -> list[dict[str, Any]]:
    """The participant's meetings in the published schedule (`published_schedule_id`), in slot
    order, with shared domains."""
    found = await agendas(
        session, event=event, participants=[participant], taxonomy=taxonomy, schedule_id=schedule_id
    )
    return found[participant.id]


async def agendas(
    session: AsyncSession,
    *,
    event: Event,
    participants: Sequence[Participant],
    taxonomy: Taxonomy,
    schedule_id: uuid.UUID | None,
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """`agenda` of each of these participants of the event, in a fixed number of statements
    however many there are (the meetings, the counterparts not among them, the domains of
    each side): what the door's roster copy reads a page at a time."""
    entries: dict[uuid.UUID, list[dict[str, Any]]] = {p.id: [] for p in participants}
    if schedule_id is None or not participants:
        return entries
    ids = list(entries)
    meetings = (
        await session.scalars(
            select(Meeting)
            .where(
                Meeting.schedule_id == schedule_id,
                or_(
                    Meeting.committee_participant_id.in_(ids),
                    Meeting.organization_participant_id.in_(ids),
                ),
                Meeting.status != "cancelled",
            )
            .order_by(Meeting.slot, Meeting.id)
        )
    ).all()
    if not meetings:
        return entries
    known = {p.id: p for p in participants}
    missing = {
        other
        for m in meetings
        for other in (m.committee_participant_id, m.organization_participant_id)
        if other not in known
    }
    if missing:
        query = parties_query(event.id).where(Participant.id.in_(missing))
        known.update((p.id, p) for p in (await session.scalars(query)).all())
    codes = await _domain_codes(session, list(known.values()))
    times = events.slot_times(event)
    for meeting in meetings:
        pair = (meeting.committee_participant_id, meeting.organization_participant_id)
        start, end = times[meeting.slot - 1]
        for own_id, other_id in (pair, pair[::-1]):
            if own_id not in entries:
                continue
            theirs = set(codes[other_id])
            shared = [code for code in codes[own_id] if code in theirs]
            entries[own_id].append(
                {
                    "slot": meeting.slot,
                    "start": start,
                    "end": end,
                    "table": meeting.table_number,
                    "status": meeting.status,
                    "counterpart": party_name(known[other_id]),
                    "shared_domains": [
                        {
                            "code": c,
                            "name_en": taxonomy.by_code[c].name_en,
                            "name_zh": taxonomy.by_code[c].name_zh_hans,
                        }
                        for c in shared
                    ],
                }
            )
    return entries


async def _domain_codes(
    session: AsyncSession, participants: list[Participant]
) -> dict[uuid.UUID, list[str]]:
    """Each participant's domain codes in their party's order: a statement for each side, not
    one for each participant."""
    codes: dict[uuid.UUID, list[str]] = {p.id: [] for p in participants}
    sides = (
        (CommitteeDomain, CommitteeDomain.committee_id, "committee_id"),
        (OrganizationDomain, OrganizationDomain.organization_id, "organization_id"),
    )
    for link, party_column, attribute in sides:
        by_party: dict[uuid.UUID, list[uuid.UUID]] = {}
        for p in participants:
            party_id = getattr(p, attribute)
            if party_id is not None:
                by_party.setdefault(party_id, []).append(p.id)
        if not by_party:
            continue
        rows = await session.execute(
            select(party_column, Domain.code)
            .join(Domain, link.domain_id == Domain.id)
            .where(party_column.in_(by_party))
            .order_by(party_column, link.position)
        )
        for party_id, code in rows.all():
            for participant_id in by_party[party_id]:
                codes[participant_id].append(code)
    return codes
