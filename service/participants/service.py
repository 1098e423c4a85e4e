"""Who takes part in an event: registration, the party and people it carries, finding them."""

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from service.badges import looks_like_badge_code, new_badge_code, normalize_badge_code
from service.chinese import fold, like_pattern, pinyin_forms
from service.directory import service as directory
from service.directory.schemas import RowError
from service.directory.taxonomy import Taxonomy
from service.errors import Conflict, InUse, NotFound, SlotOutOfRange, UnknownParty, Unprocessable
from service.integrity import delete_unless_referred, is_unique_violation
from service.models import Committee, Event, Organization, Participant, Person
from service.pagination import Rank
from service.participants.schemas import ParticipantIn, ParticipantPatch, PersonIn, WalkInIn
from service.versions import require_match, stamp_if_changed


class AlreadyRegistered(Conflict):
    code, title = "already_registered", "Party already registered"


class InvalidRegistrationRows(Unprocessable):
    code, title = "invalid_rows", "Some rows are invalid; nothing was imported"


# --- registration -------------------------------------------------------------------------------


def _with_party(stmt: Select[Participant]) -> Select[Participant]:
    # The party is one row per participant: joined in the same query; people may be many.
    return stmt.options(
        selectinload(Participant.people),
        joinedload(Participant.committee),
        joinedload(Participant.organization),
    )


async def get_participant(
    session: AsyncSession, *, event_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    """One participant of the event, with its people and party; 404 when there is none."""
    participant = await session.scalar(
        _with_party(select(Participant)).where(
            Participant.id == participant_id, Participant.event_id == event_id
        )
    )
    if participant is None:
        raise NotFound(f"No participant {participant_id} in event {event_id}.")
    return participant


def _index_for_search(participant: Participant) -> None:
    names = [*participant.party_names, *(p.name for p in participant.people)]
    chinese = [n for n in names if any("\u4e00" <= ch <= "\u9fff" or ord(ch) > 0xFFFF for ch in n)]
    forms = [pinyin_forms(n) for n in chinese]
    participant.search_names = " | ".join(fold(n) for n in names)
    participant.search_pinyin = " ".join(full for full, _ in forms)
    participant.search_initials = " ".join(initials for _, initials in forms)
    participant.phone_tails = " ".join(
        digits[-4:]
        for digits in (
            "".join(ch for ch in p.phone or "" if ch.isdigit()) for p in participant.people
        )
        if len(digits) >= 4
    )


def _people(people: list[PersonIn], *, first_badge: str | None = None) -> list[Person]:
    """New people, each with a badge of their own; the first may take the party's."""
    return [
        Person(
            position=i,
            badge_code=first_badge if i == 0 and first_badge else new_badge_code(),
            **p.details(),
        )
        for i, p in enumerate(people)
    ]


def _same_people(participant: Participant, people: list[PersonIn]) -> list[Person]:
    """The party's people as now listed: someone listed again (by id, else by name) keeps their
    record and badge, taking the new name, title and contacts; newcomers get badges of their
    own."""
    waiting = list(participant.people)
    kept: list[Person] = []
    for i, data in enumerate(people):
        match = next((p for p in waiting if data.id is not None and p.id == data.id), None)
        match = match or next((p for p in waiting if p.name == data.name), None)
        if match is None:
            kept.append(Person(position=i, badge_code=new_badge_code(), **data.details()))
            continue
        waiting.remove(match)
        for field, value in data.details().items():
            if getattr(match, field) != value:
                setattr(match, field, value)
        if match.position != i:
            match.position = i
        kept.append(match)
    return kept


def _check_slot_numbers(event: Event, slots: list[int]) -> list[int]:
    outside = sorted({s for s in slots if s > len(event.slots)})
    if outside:
        raise SlotOutOfRange(
            f"The event has {len(event.slots)} slots; "
            f"slot {', '.join(map(str, outside))} does not exist.",
            errors=[
                {"field": "unavailable_slots", "message": f"slot {s} does not exist"}
                for s in outside
            ],
        )
    return sorted(set(slots))


async def _party_exists(session: AsyncSession, data: ParticipantIn) -> None:
    if data.committee_id is not None and await session.get(Committee, data.committee_id) is None:
        raise UnknownParty(f"No committee has id {data.committee_id}.")
    if (
        data.organization_id is not None
        and await session.get(Organization, data.organization_id) is None
    ):
        raise UnknownParty(f"No organization has id {data.organization_id}.")


async def register(session: AsyncSession, *, event: Event, data: ParticipantIn) -> Participant:
    """Register a committee or organization for the event, with a fresh badge code."""
    await _party_exists(session, data)
    badge = new_badge_code()
    participant = Participant(
        event_id=event.id,
        committee_id=data.committee_id,
        organization_id=data.organization_id,
        badge_code=badge,
        unavailable_slots=_check_slot_numbers(event, data.unavailable_slots),
        min_meetings=data.min_meetings,
        max_meetings=len(event.slots) if data.max_meetings is None else data.max_meetings,
        people=_people(data.people, first_badge=badge),
    )
    try:
        # Added inside the savepoint (begin_nested flushes what is pending before it starts),
        # so that a second badge can be drawn in the same transaction.
        async with session.begin_nested():
            session.add(participant)
            await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc, table="participants", column="badge_code"):
            # 46 random bits make this all but impossible; a second draw settles it.
            participant.badge_code = new_badge_code()
            participant.people[0].badge_code = participant.badge_code
            session.add(participant)
            await session.flush()
        else:
            raise AlreadyRegistered("This party is already registered for the event.") from exc
    loaded = await get_participant(session, event_id=event.id, participant_id=participant.id)
    _index_for_search(loaded)
    await session.flush()
    return loaded


async def update_participant(
    session: AsyncSession,
    *,
    event: Event,
    participant_id: uuid.UUID,
    patch: ParticipantPatch,
    if_match: str | None,
) -> Participant:
    """Apply the fields sent, against the version the client read; a patch that changes
    nothing leaves the record, and its version, as they were."""
    participant = await get_participant(session, event_id=event.id, participant_id=participant_id)
    require_match(if_match, version=participant.version)
    people_changed = patch.people is not None and [p.details() for p in patch.people] != [
        {"name": p.name, "title": p.title, "phone": p.phone, "email": p.email}
        for p in participant.people
    ]
    if patch.people is not None and people_changed:
        participant.people = _same_people(participant, patch.people)
        # The party's badge stays its first person's.
        if participant.badge_code != participant.people[0].badge_code:
            participant.badge_code = participant.people[0].badge_code
    if patch.unavailable_slots is not None:
        participant.unavailable_slots = _check_slot_numbers(event, patch.unavailable_slots)
    if patch.min_meetings is not None:
        participant.min_meetings = patch.min_meetings
    if patch.max_meetings is not None:
        participant.max_meetings = patch.max_meetings
    if participant.max_meetings < participant.min_meetings:
        raise Unprocessable("max_meetings must be at least min_meetings.")
    _index_for_search(participant)
    # People edited in place (a title, a phone) are child rows the party's record cannot see.
    stamp_if_changed(session, participant, children_changed=people_changed)
    await session.flush()
    return participant


async def unregister(
    session: AsyncSession, *, event_id: uuid.UUID, participant_id: uuid.UUID, if_match: str | None
) -> None:
    """Remove a registration; refused (409 `in_use`) while meetings or a check-in refer to it."""
    participant = await get_participant(session, event_id=event_id, participant_id=participant_id)
    require_match(if_match, version=participant.version)
    await delete_unless_referred(
        session,
        participant,
        refused=InUse(
            "Meetings or a check-in refer to this participant: a participant with meetings "
            "in a schedule, cancelled ones included, or who has checked in stays registered."
        ),
    )


def participants_query(event_id: uuid.UUID) -> Select[Participant]:
    """Every participant of the event with party and people loaded."""
    return _with_party(select(Participant)).where(Participant.event_id == event_id)


def parties_query(event_id: uuid.UUID) -> Select[Participant]:
    """Every participant of the event with its party loaded, not its people: what an agenda
    needs of a participant and its counterparts (one statement fewer than with the people)."""
    return (
        select(Participant)
        .options(joinedload(Participant.committee), joinedload(Participant.organization))
        .where(Participant.event_id == event_id)
    )


# --- walk-ins ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WalkIn:
    """What a walk-in came to: the participant, its walk-in people, and what was new."""

    participant: Participant
    people: list[Person]
    organization_created: bool
    participant_created: bool
    people_created: int


async def _find_organization(session: AsyncSession, data: WalkInIn) -> Organization | None:
    if data.organization.credit_code:
        found = await session.scalar(
            select(Organization).where(Organization.credit_code == data.organization.credit_code)
        )
        if found is not None:
            return found
    return await session.scalar(
        select(Organization)
        .where(Organization.name_zh == data.organization.name_zh)
        .order_by(Organization.created_at, Organization.id)
        .limit(1)
    )


async def walk_in(
    session: AsyncSession, *, event: Event, data: WalkInIn, taxonomy: Taxonomy
) -> WalkIn:
    """Register people at the door: find (by credit code, else Chinese name) or create the
    organization, register it for the event or add the people to its party. Sent again, it
    finds everything and creates nothing."""
    organization = await _find_organization(session, data)
    organization_created = organization is None
    if organization is None:
        organization = await directory.create_organization(
            session, data=data.organization, taxonomy=taxonomy
        )
    existing = await session.scalar(
        participants_query(event.id).where(Participant.organization_id == organization.id)
    )
    if existing is None:
        participant = await register(
            session,
            event=event,
            data=ParticipantIn(organization_id=organization.id, people=data.people),
        )
        people_created = len(participant.people)
    else:
        listed = {p.name for p in existing.people}
        newcomers = [p for p in data.people if p.name not in listed]
        people_created = len(newcomers)
        participant = existing
        if newcomers:
            everyone = [
                PersonIn(id=p.id, name=p.name, title=p.title, phone=p.phone, email=p.email)
                for p in existing.people
            ]
            participant = await update_participant(
                session,
                event=event,
                participant_id=existing.id,
                patch=ParticipantPatch(people=[*everyone, *newcomers]),
                if_match=f'"{existing.version}"',
            )
    names = [p.name for p in data.people]
    walked_in = sorted(
        (p for p in participant.people if p.name in names), key=lambda p: names.index(p.name)
    )
    return WalkIn(
        participant=participant,
        people=walked_in,
        organization_created=organization_created,
        participant_created=existing is None,
        people_created=people_created,
    )


# --- the kiosk's search -------------------------------------------------------------------------


def _rank(participant: Participant, query: str, *, phone_tails: bool) -> int:
    """How well a participant answers the query: higher first."""
    folded = fold(query).strip()
    compact = folded.replace(" ", "")
    if looks_like_badge_code(query) and normalize_badge_code(query) in {
        participant.badge_code,
        *(p.badge_code for p in participant.people),
    }:
        return 100
    if (
        phone_tails
        and compact.isdigit()
        and len(compact) == 4
        and compact in participant.phone_tails.split()
    ):
        return 90
    names = participant.search_names.split(" | ")
    pinyin = participant.search_pinyin.split()
    initials = participant.search_initials.split()
    scores = [0]
    for candidates, exact, prefix, inner in (
        (names, 80, 70, 60),
        (pinyin, 75, 65, 50),
        (initials, 72, 62, 40),
    ):
        for candidate in candidates:
            if candidate in (folded, compact):
                scores.append(exact)
            elif candidate.startswith(compact) or candidate.startswith(folded):
                scores.append(prefix)
            elif compact in candidate or folded in candidate:
                scores.append(inner)
    return max(scores)


def search_filter(query: str, *, phone_tails: bool) -> Any:
    """A WHERE clause keeping the participants the query could match."""
    folded = fold(query).strip()
    compact = folded.replace(" ", "")
    clauses: list[ColumnElement[bool]] = [
        Participant.search_names.like(like_pattern(folded), escape="\\"),
        Participant.search_pinyin.like(like_pattern(compact), escape="\\"),
        Participant.search_initials.like(like_pattern(compact), escape="\\"),
    ]
    if phone_tails and compact.isdigit() and len(compact) == 4:
        clauses.append(Participant.phone_tails.like(like_pattern(compact), escape="\\"))
    if looks_like_badge_code(query):
        code = normalize_badge_code(query)
        clauses.append(Participant.badge_code == code)
        clauses.append(
            Participant.id.in_(select(Person.participant_id).where(Person.badge_code == code))
        )
    return or_(*clauses)


async def search_participants(
    session: AsyncSession, *, event_id: uuid.UUID, query: str, phone_tails: bool
) -> list[tuple[Rank, Participant]]:
    """Participants matching a name (either script), pinyin, initials, badge or, when
    `phone_tails` (the door's keys: a partner could enumerate phones), the last four digits of a
    phone; best first, each with its place in that order."""
    matching = search_filter(query, phone_tails=phone_tails)
    rows = (await session.scalars(participants_query(event_id).where(matching))).all()
    ranked = [
        ((-rank, p.party_names[0], str(p.id)), p)
        for p in rows
        if (rank := _rank(p, query, phone_tails=phone_tails)) > 0
    ]
    ranked.sort(key=lambda item: item[0])
    return ranked


# --- registration from spreadsheets -------------------------------------------------------------


async def _party_index(session: AsyncSession) -> dict[str, tuple[str, uuid.UUID]]:
    """Every way a roster may name a party: designation, credit code or Chinese name."""
    index: dict[str, tuple[str, uuid.UUID]] = {}
    for c in (
        await session.execute(select(Committee.id, Committee.designation, Committee.name_zh))
    ).all():
        index[fold(c.designation)] = ("committee", c.id)
        index.setdefault(fold(c.name_zh), ("committee", c.id))
    rows = await session.execute(
        select(Organization.id, Organization.credit_code, Organization.name_zh)
    )
    for o in rows.all():
        if o.credit_code:
            index[fold(o.credit_code)] = ("organization", o.id)
        index.setdefault(fold(o.name_zh), ("organization", o.id))
    return index


def _int_list(text: str) -> list[int]:
    parts = text.replace("；", ";").replace("，", ";").replace(",", ";").split(";")
    return [int(p) for p in (x.strip() for x in parts) if p]


async def import_participants(
    session: AsyncSession, *, event: Event, rows: list[tuple[int, dict[str, str]]]
) -> tuple[int, int, int]:
    """Register from a roster, one row per person, all or nothing; (created, updated,
    unchanged)."""
    parties = await _party_index(session)
    errors: list[RowError] = []
    grouped: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    if not rows:
        raise InvalidRegistrationRows("The file has a header but no data rows.", errors=[])
    for number, row in rows:
        party = parties.get(fold(row.get("party", "")))
        if party is None:
            errors.append(
                RowError(
                    row=number,
                    field="party",
                    message=f"no committee or organization is called {row.get('party', '')!r}",
                )
            )
            continue
        entry = grouped.setdefault(party, {"people": [], "rows": []})
        entry["rows"].append(number)
        try:
            person = PersonIn.model_validate(
                {k: row.get(f"person_{k}") or None for k in ("name", "title", "phone", "email")}
            )
            entry["people"].append(person)
            for key in ("min_meetings", "max_meetings"):
                if row.get(key):
                    entry[key] = int(row[key])
            if row.get("unavailable_slots"):
                entry["unavailable_slots"] = _int_list(row["unavailable_slots"])
                _check_slot_numbers(event, entry["unavailable_slots"])
        except ValidationError as exc:
            errors.extend(
                RowError(
                    row=number,
                    field="person_" + ".".join(str(p) for p in e["loc"]),
                    message=e["msg"],
                )
                for e in exc.errors()
            )
        except ValueError:
            errors.append(
                RowError(
                    row=number,
                    field="min_meetings/max_meetings/unavailable_slots",
                    message="must be whole numbers",
                )
            )
        except SlotOutOfRange as exc:
            errors.append(RowError(row=number, field="unavailable_slots", message=exc.detail))
    directory.refuse_rows(errors, total=len(rows), refusal=InvalidRegistrationRows)
    existing = {
        (
            ("committee", p.committee_id) if p.committee_id else ("organization", p.organization_id)
        ): p
        for p in (await session.scalars(participants_query(event.id))).all()
    }
    created = updated = 0
    for (kind, party_id), entry in grouped.items():
        values = {
            k: entry[k] for k in ("min_meetings", "max_meetings", "unavailable_slots") if k in entry
        }
        participant = existing.get((kind, party_id))
        if participant is None:
            data = ParticipantIn.model_validate(
                {f"{kind}_id": party_id, "people": entry["people"], **values}
            )
            await register(session, event=event, data=data)
            created += 1
        else:
            patch = ParticipantPatch.model_validate({"people": entry["people"], **values})
            version = participant.version
            changed = await update_participant(
                session,
                event=event,
                participant_id=participant.id,
                patch=patch,
                if_match=f'"{version}"',
            )
            updated += changed.version != version
    return created, updated, len(grouped) - created - updated
