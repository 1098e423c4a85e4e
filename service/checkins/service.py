"""Check-in at the door: one record per person, replayable scans, every failure kept.

Every person has a badge of their own; the party's badge is its first person's. A party has
arrived when its first person has.

A scan is decided first (the event's state, the badge, the check-in claimed against the
unique participant), then written once with its outcome. Failures are outcomes, not
exceptions: a failed scan must be committed with the request.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from service.auth.service import Principal
from service.badges import normalize_badge_code
from service.errors import Conflict, Forbidden, NotFound, Unprocessable
from service.events.service import slot_times, visible_event
from service.models import CheckIn, Event, Participant, Person, Scan
from service.models.columns import new_id, utcnow
from service.participants.service import participants_query
from service.statements import UPSERT_INSERTS, table_of
from service.webhooks import service as webhooks

Outcome = Literal[
    "checked_in", "already_checked_in", "unknown_badge", "event_not_open", "scan_time_refused"
]

SUCCESSFUL = ("checked_in", "already_checked_in")
FAILED = ("unknown_badge", "event_not_open", "scan_time_refused")


class UnknownBadge(NotFound):
    code, title = "unknown_badge", "Unknown badge"


class EventNotOpen(Conflict):
    code, title = "event_not_open", "Event is not open for check-in"


class ScanTimeRefused(Unprocessable):
    code, title = "scan_time_refused", "Scan time is in the future or outside the event"


class NonceReused(Unprocessable):
    code, title = "nonce_reused", "Nonce already used for another badge"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan came to, for the route to render.

    `participant` and `person` are None only for an unknown badge; `checked_in_at` is set
    when the person is (now or already) checked in.
    """

    outcome: Outcome
    event: Event
    badge_code: str
    participant: Participant | None
    person: Person | None
    checked_in_at: datetime | None
    replayed: bool = False
    # Why a scan time was refused, for the problem document.
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DoorClock:
    """What the door takes for a believable scan time (settings CHECKIN_CLOCK_SKEW_SECONDS and
    CHECKIN_GRACE_HOURS)."""

    skew: timedelta
    grace: timedelta


def event_day(event: Event) -> tuple[datetime, datetime]:
    """The event's day: its date, midnight to midnight in its timezone, widened to its slots."""
    zone = ZoneInfo(event.timezone)
    start = datetime(event.date.year, event.date.month, event.date.day, tzinfo=zone)
    end = start + timedelta(days=1)
    for slot_start, slot_end in slot_times(event):
        start, end = min(start, slot_start), max(end, slot_end)
    return start.astimezone(UTC), end.astimezone(UTC)


def scan_time_refusal(event: Event, at: datetime, *, now: datetime, clock: DoorClock) -> str:
    """Why a scan at `at` cannot have happened at this event, or "" when it can."""
    if at > now + clock.skew:
        return (
            f"The scan time {at.isoformat()} is later than now ({now.isoformat()}) by more "
            f"than the allowed clock skew of {int(clock.skew.total_seconds())} s."
        )
    start, end = event_day(event)
    if not start - clock.grace <= at <= end + clock.grace:
        return (
            f"The scan time {at.isoformat()} falls outside the event's day "
            f"({start.isoformat()} to {end.isoformat()}, with "
            f"{clock.grace.total_seconds() / 3600:g} h of grace either side)."
        )
    return ""


# The door's statements are built once: building and keying them again for every scan took
# more of a check-in's CPU than running them (pyinstrument, in-process check-ins on PostgreSQL).
# Those that load no object are on the tables, not the mapped classes, so they skip the ORM's
# per-statement work, which took about as much again.
_SCANS = table_of(Scan)
_CHECKINS = table_of(CheckIn)
_HOLDER = (
    select(Person.participant_id).where(Person.badge_code == bindparam("badge_code"))
).scalar_subquery()
_AT_DOOR = (
    select(Event, Participant)
    .outerjoin(Participant, (Participant.event_id == Event.id) & (Participant.id == _HOLDER))
    .options(
        joinedload(Participant.people),
        joinedload(Participant.committee),
        joinedload(Participant.organization),
    )
    .where(Event.id == bindparam("event_id"))
    # Shared with every other scan, exclusive with deleting the event (which locks it first).
    .with_for_update(of=Event, key_share=True)
)
_EARLIER_SCAN = select(_SCANS.c.badge_code, _SCANS.c.outcome, _SCANS.c.scanned_at).where(
    _SCANS.c.kiosk_key_id == bindparam("kiosk_key_id"), _SCANS.c.nonce == bindparam("nonce")
)
# A scan whose nonce a concurrent request of the same key has just taken inserts nothing (it
# waits for that one to commit); a second check-in of a participant neither.
_RECORD_SCAN = {
    name: insert(_SCANS)
    .on_conflict_do_nothing(index_elements=["kiosk_key_id", "nonce"])
    .returning(_SCANS.c.id)
    for name, insert in UPSERT_INSERTS.items()
}
_CLAIM_CHECKIN = {
    name: insert(_CHECKINS)
    .on_conflict_do_nothing(index_elements=["person_id"])
    .returning(_CHECKINS.c.checked_in_at)
    for name, insert in UPSERT_INSERTS.items()
}
_EARLIER_CHECKIN = (
    select(CheckIn).where(CheckIn.person_id == bindparam("person_id")).with_for_update()
)
_CHECKED_IN_AT = select(_CHECKINS.c.checked_in_at).where(
    _CHECKINS.c.person_id == bindparam("person_id")
)


async def event_at_door(
    session: AsyncSession, *, event_id: uuid.UUID, badge_code: str, principal: Principal
) -> tuple[Event, Participant | None, Person | None]:
    """The event, and the person with this badge with their participant, party and people, in
    one query.

    404 and 403 as `get_event`; None, None for a badge no person of the event has.
    """
    found = await session.execute(_AT_DOOR, {"event_id": event_id, "badge_code": badge_code})
    row = found.unique().one_or_none()
    event = visible_event(row[0] if row else None, event_id=event_id, principal=principal)
    participant = row[1] if row else None
    if participant is None:
        return event, None, None
    person = next(p for p in participant.people if p.badge_code == badge_code)
    return event, participant, person


async def check_in(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    badge_code: str,
    nonce: str | None,
    scanned_at: datetime | None,
    principal: Principal,
    clock: DoorClock,
) -> ScanResult:
    """Check a badge in; the scan is kept whatever it comes to.

    A nonce is the kiosk's own (its API key's): the same nonce again is the same scan, answered
    as it was decided, and with another badge a 422. An unknown event (404) or one the key may
    not serve (403) is raised before any scan is kept.
    """
    code = normalize_badge_code(badge_code)
    event, participant, person = await event_at_door(
        session, event_id=event_id, badge_code=code, principal=principal
    )
    if nonce is not None:
        replay = await _replay(
            session, event, participant, person, code, nonce=nonce, principal=principal
        )
        if replay is not None:
            return replay
    now = utcnow()
    at = scanned_at.astimezone(UTC) if scanned_at else now
    result = await _decide(
        session,
        event,
        participant,
        person,
        code,
        at=at,
        offline=scanned_at is not None,
        principal=principal,
        refusal=scan_time_refusal(event, at, now=now, clock=clock),
    )
    recorded = await session.scalar(
        _RECORD_SCAN[session.get_bind().dialect.name],
        {
            "id": new_id(),
            "event_id": event.id,
            "nonce": nonce,
            "badge_code": code,
            "participant_id": participant.id if participant is not None else None,
            "person_id": person.id if person is not None else None,
            "kiosk_key_id": principal.key_id,
            "kiosk_name": principal.name,
            "scanned_at": at,
            "outcome": result.outcome,
            "created_at": utcnow(),
        },
    )
    if recorded is None:
        # The same kiosk sent this nonce twice at once and the other request won: it decided
        # the scan (and this request, waiting on it, claimed nothing), so answer as it did.
        replay = await _replay(
            session, event, participant, person, code, nonce=nonce or "", principal=principal
        )
        if replay is None:
            raise RuntimeError("a scan's nonce was taken but its scan is missing")
        return replay
    return result


async def _replay(
    session: AsyncSession,
    event: Event,
    participant: Participant | None,
    person: Person | None,
    code: str,
    *,
    nonce: str,
    principal: Principal,
) -> ScanResult | None:
    earlier = (
        await session.execute(_EARLIER_SCAN, {"kiosk_key_id": principal.key_id, "nonce": nonce})
    ).one_or_none()
    if earlier is None:
        return None
    if earlier.badge_code != code:
        raise NonceReused(
            f"This kiosk already used nonce {nonce!r} for badge {earlier.badge_code}, not "
            f"{code}; every scan needs a nonce of its own.",
            errors=[{"field": "nonce", "message": f"already used for badge {earlier.badge_code}"}],
        )
    checked_in_at = None
    if person is not None:
        checked_in_at = await session.scalar(_CHECKED_IN_AT, {"person_id": person.id})
        if checked_in_at is None and earlier.outcome in SUCCESSFUL:
            # Undone since: the scan is answered as it was, at its own time.
            checked_in_at = earlier.scanned_at
    detail = ""
    if earlier.outcome == "scan_time_refused":
        detail = f"The scan time {earlier.scanned_at.isoformat()} was refused when first sent."
    return ScanResult(
        earlier.outcome,
        event,
        code,
        participant,
        person,
        checked_in_at,
        replayed=True,
        detail=detail,
    )


async def _decide(
    session: AsyncSession,
    event: Event,
    participant: Participant | None,
    person: Person | None,
    code: str,
    *,
    at: datetime,
    offline: bool,
    principal: Principal,
    refusal: str,
) -> ScanResult:
    if event.state != "open":
        return ScanResult("event_not_open", event, code, participant, person, None)
    if refusal:
        return ScanResult(
            "scan_time_refused", event, code, participant, person, None, detail=refusal
        )
    if participant is None or person is None:
        return ScanResult("unknown_badge", event, code, None, None, None)
    # One check-in per person, whatever the number of kiosks: the unique constraint decides,
    # and the loser of a race reads the winner's record.
    checked_in_at = await session.scalar(
        _CLAIM_CHECKIN[session.get_bind().dialect.name],
        {
            "id": new_id(),
            "event_id": event.id,
            "participant_id": participant.id,
            "person_id": person.id,
            "checked_in_at": at,
            "kiosk_key_id": principal.key_id,
            "created_at": utcnow(),
        },
    )
    if checked_in_at is None:
        existing = await session.scalar(_EARLIER_CHECKIN, {"person_id": person.id})
        assert existing is not None
        # Offline kiosks upload in any order: the check-in time is the earliest scan they
        # report. A live scan that merely lost a race to another kiosk changes nothing.
        if offline and at < existing.checked_in_at:
            existing.checked_in_at = at
            await session.flush()
        return ScanResult(
            "already_checked_in", event, code, participant, person, existing.checked_in_at
        )
    await webhooks.emit(
        session,
        type="checkin.created",
        data={
            "event_id": event.id,
            "participant_id": participant.id,
            "person_id": person.id,
            "party": {
                "kind": participant.party_kind,
                "id": participant.party_id,
                "name_zh": participant.party_names[0],
            },
            "checked_in_at": checked_in_at,
        },
        parties=[participant.party_id],
    )
    return ScanResult("checked_in", event, code, participant, person, checked_in_at)


async def arrivals(
    session: AsyncSession, *, participant_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, datetime], dict[uuid.UUID, datetime]]:
    """When each of these participants arrived (its first person), and when each of their
    people checked in, for those who did."""
    if not participant_ids:
        return {}, {}
    rows = await session.execute(
        select(CheckIn.participant_id, CheckIn.person_id, CheckIn.checked_in_at).where(
            CheckIn.participant_id.in_(participant_ids)
        )
    )
    parties: dict[uuid.UUID, datetime] = {}
    people: dict[uuid.UUID, datetime] = {}
    for participant_id, person_id, at in rows.all():
        if participant_id not in parties or at < parties[participant_id]:
            parties[participant_id] = at
        if person_id is not None:
            people[person_id] = at
    return parties, people


async def checked_in_times(
    session: AsyncSession, *, participant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each of these participants arrived (its first person), for those who did."""
    parties, _ = await arrivals(session, participant_ids=participant_ids)
    return parties


@dataclass(frozen=True, slots=True)
class Counts:
    registered: int
    checked_in: int

    @property
    def expected(self) -> int:
        return self.registered - self.checked_in


PARTY_KINDS = ("committee", "enterprise", "association", "institute")


@dataclass(frozen=True, slots=True)
class Status:
    """Parties and people, registered and checked in, in total and by kind of party."""

    parties: Counts
    parties_by_kind: dict[str, Counts]
    people: Counts
    people_by_kind: dict[str, Counts]


async def status(session: AsyncSession, *, event_id: uuid.UUID) -> Status:
    """Registered and checked in, parties and people, in total and by kind of party."""
    participants = (await session.scalars(participants_query(event_id))).all()
    arrived, present = await arrivals(session, participant_ids=[p.id for p in participants])
    registered = Counter(p.party_kind for p in participants)
    checked = Counter(p.party_kind for p in participants if p.id in arrived)
    people = Counter(p.party_kind for p in participants for _ in p.people)
    people_in = Counter(
        p.party_kind for p in participants for person in p.people if person.id in present
    )

    def by_kind(all_: Counter[str], some: Counter[str]) -> dict[str, Counts]:
        return {kind: Counts(all_[kind], some[kind]) for kind in PARTY_KINDS}

    return Status(
        parties=Counts(sum(registered.values()), sum(checked.values())),
        parties_by_kind=by_kind(registered, checked),
        people=Counts(sum(people.values()), sum(people_in.values())),
        people_by_kind=by_kind(people, people_in),
    )


# --- undo ---------------------------------------------------------------------------------------


class NotCheckedIn(Conflict):
    code, title = "not_checked_in", "Not checked in"


class PermissionRequired(Forbidden):
    code, title = "permission_required", "Key lacks the permission"


@dataclass(frozen=True, slots=True)
class Undone:
    """A reversed check-in: who, when it had been, and the reversal kept in the scans."""

    event: Event
    participant: Participant
    person: Person
    checked_in_at: datetime
    scan: Scan


async def undo_check_in(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    badge_code: str,
    reason: str,
    principal: Principal,
) -> Undone:
    """Reverse a check-in; the reversal is kept among the scans, and a later scan checks the
    badge in again. Admins, and kiosk keys given `undo_checkin`."""
    if not principal.may("undo_checkin"):
        raise PermissionRequired(
            "Undoing a check-in needs an admin key or a kiosk key created with undo_checkin.",
            permission="undo_checkin",
        )
    code = normalize_badge_code(badge_code)
    event, participant, person = await event_at_door(
        session, event_id=event_id, badge_code=code, principal=principal
    )
    if participant is None or person is None:
        raise UnknownBadge(f"No participant of this event has badge {code}.")
    # Locked: a scan racing the reversal either sees the check-in or inserts a fresh one.
    existing = await session.scalar(_EARLIER_CHECKIN, {"person_id": person.id})
    if existing is None:
        raise NotCheckedIn(f"Badge {code} is not checked in; there is nothing to undo.")
    checked_in_at = existing.checked_in_at
    await session.delete(existing)
    now = utcnow()
    scan = Scan(
        event_id=event.id,
        badge_code=code,
        participant_id=participant.id,
        person_id=person.id,
        kiosk_key_id=principal.key_id,
        kiosk_name=principal.name,
        scanned_at=now,
        outcome="checkin_undone",
        reason=reason,
        created_at=now,
    )
    session.add(scan)
    await session.flush()
    return Undone(event, participant, person, checked_in_at, scan)
