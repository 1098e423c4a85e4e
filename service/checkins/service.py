"""Check-in at the door: one record per person, replayable scans, every failure kept.

Every person has a badge of their own; the party's badge is its first person's. A party has
arrived when its first person has.

A scan is decided first (the event's state, the badge, the check-in claimed against the
unique participant), then written once with its outcome. Failures are outcomes, not
exceptions: a failed scan must be committed with the request.
"""

import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol, TypedDict
from zoneinfo import ZoneInfo

from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from service.auth.service import Principal
from service.badges import normalize_badge_code
from service.checkins.schemas import CheckInOut
from service.db import DriverStatement
from service.directory.taxonomy import Taxonomy
from service.errors import Conflict, Forbidden, NotFound, Unprocessable
from service.events.service import slot_times, visible_event
from service.models import CheckIn, Event, Participant, Person, Scan
from service.models.columns import new_id, utcnow
from service.participants.schemas import ParticipantOut, Party, PersonOut
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
    event_state: str
    badge_code: str
    participant: Participant | None
    person: Person | None
    checked_in_at: datetime | None
    replayed: bool = False
    # Why a scan time was refused, for the problem document.
    detail: str = ""
    # The ORM's event (SQLite), for the route to read the agenda with.
    event: Event | None = None
    # The answer to a scan that found its person checked in: rendered from the scan's own
    # statements (PostgreSQL), or by the route from the ORM (SQLite); None for a refusal.
    answer: CheckInOut | None = None


@dataclass(frozen=True, slots=True)
class DoorClock:
    """What the door takes for a believable scan time (settings CHECKIN_CLOCK_SKEW_SECONDS and
    CHECKIN_GRACE_HOURS)."""

    skew: timedelta
    grace: timedelta


class ScanAtDoor(TypedDict):
    """A scan as both check-in paths take it (`check_in`, `check_in_at_door`)."""

    event_id: uuid.UUID
    badge_code: str
    nonce: str | None
    scanned_at: datetime | None
    principal: Principal
    clock: DoorClock


class EventDay(Protocol):
    """What the scan time rule needs of an event: the ORM's, or the door's reading of it."""

    @property
    def timezone(self) -> str: ...
    @property
    def date(self) -> date: ...
    @property
    def slots(self) -> list[Any]: ...


def event_day(event: EventDay) -> tuple[datetime, datetime]:
    """The event's day: its date, midnight to midnight in its timezone, widened to its slots."""
    zone = ZoneInfo(event.timezone)
    start = datetime(event.date.year, event.date.month, event.date.day, tzinfo=zone)
    end = start + timedelta(days=1)
    for slot_start, slot_end in slot_times(event):
        start, end = min(start, slot_start), max(end, slot_end)
    return start.astimezone(UTC), end.astimezone(UTC)


def scan_time_refusal(event: EventDay, at: datetime, *, now: datetime, clock: DoorClock) -> str:
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
    # Shared with every other scan, exclusive with deleting the event (which locks it first):
    # FOR KEY SHARE (key_share alone would be FOR NO KEY UPDATE, which queued every scan and
    # undo of the event behind each other).
    .with_for_update(of=Event, read=True, key_share=True)
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
        event.state,
        code,
        participant,
        person,
        checked_in_at,
        replayed=True,
        detail=detail,
        event=event,
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
        return ScanResult(
            "event_not_open", event.state, code, participant, person, None, event=event
        )
    if refusal:
        return ScanResult(
            "scan_time_refused",
            event.state,
            code,
            participant,
            person,
            None,
            detail=refusal,
            event=event,
        )
    if participant is None or person is None:
        return ScanResult("unknown_badge", event.state, code, None, None, None, event=event)
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
            "already_checked_in",
            event.state,
            code,
            participant,
            person,
            existing.checked_in_at,
            event=event,
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
    return ScanResult(
        "checked_in", event.state, code, participant, person, checked_in_at, event=event
    )


# --- the door on PostgreSQL: two statements ----------------------------------------------------

# A party as JSON, for the participants row `{p}`: its committee or its organization.
_PARTY_JSON = """COALESCE(
    (SELECT json_build_object('kind', 'committee', 'id', c.id, 'name_zh', c.name_zh,
                              'name_en', c.name_en, 'designation', c.designation)
     FROM committees c WHERE c.id = {p}.committee_id),
    (SELECT json_build_object('kind', o.kind, 'id', o.id, 'name_zh', o.name_zh,
                              'name_en', o.name_en, 'designation', NULL)
     FROM organizations o WHERE o.id = {p}.organization_id))"""
# The party's domain codes, in its own order.
_DOMAINS_JSON = """COALESCE(
    (SELECT json_agg(d.code ORDER BY cd.position) FROM committee_domains cd
     JOIN domains d ON d.id = cd.domain_id WHERE cd.committee_id = {p}.committee_id),
    (SELECT json_agg(d.code ORDER BY od.position) FROM organization_domains od
     JOIN domains d ON d.id = od.domain_id WHERE od.organization_id = {p}.organization_id))"""
# Everything a scan needs, in one statement: the event (locked FOR KEY SHARE: shared with every
# other scan, exclusive with deleting the event, which locks it FOR UPDATE first), the badge's
# participant with party, people, their check-ins, domains and published agenda with each
# counterpart, and this key's earlier scan with this nonce.
_DOOR_READ = DriverStatement(
    text(
        """\
SELECT e.state, e.timezone, e.date, e.slots,
  (SELECT json_build_object(
      'id', pa.id, 'event_id', pa.event_id, 'committee_id', pa.committee_id,
      'organization_id', pa.organization_id, 'badge_code', pa.badge_code,
      'unavailable_slots', pa.unavailable_slots, 'min_meetings', pa.min_meetings,
      'max_meetings', pa.max_meetings, 'version', pa.version, 'created_at', pa.created_at,
      'party', {party_pa},
      'people', (SELECT json_agg(json_build_object(
                    'id', pe.id, 'name', pe.name, 'title', pe.title, 'phone', pe.phone,
                    'email', pe.email, 'badge_code', pe.badge_code) ORDER BY pe.position)
                 FROM people pe WHERE pe.participant_id = pa.id),
      'checkins', (SELECT json_agg(json_build_object(
                      'person_id', ci.person_id, 'at', ci.checked_in_at))
                   FROM checkins ci WHERE ci.participant_id = pa.id),
      'domains', {domains_pa},
      'agenda', (SELECT json_agg(json_build_object(
                    'slot', m.slot, 'table', m.table_number, 'status', m.status,
                    'counterpart', json_build_object('id', ot.id, 'party', {party_ot}),
                    'domains', {domains_ot}) ORDER BY m.slot)
                 FROM meetings m
                 JOIN participants ot ON ot.id = CASE WHEN pa.committee_id IS NULL
                     THEN m.committee_participant_id ELSE m.organization_participant_id END
                 WHERE m.schedule_id = (
                     SELECT s.id FROM schedules s WHERE s.event_id = e.id
                     AND s.state = 'published' ORDER BY s.created_at DESC, s.id LIMIT 1)
                   AND pa.id = CASE WHEN pa.committee_id IS NULL
                     THEN m.organization_participant_id ELSE m.committee_participant_id END
                   AND m.status <> 'cancelled'))
   FROM participants pa
   WHERE pa.event_id = e.id
     AND pa.id = (SELECT h.participant_id FROM people h
                  WHERE h.badge_code = CAST(:badge_code AS varchar))) AS participant,
  (SELECT json_build_object('badge_code', sc.badge_code, 'outcome', sc.outcome,
                            'scanned_at', sc.scanned_at)
   FROM scans sc WHERE sc.kiosk_key_id = CAST(:kiosk_key_id AS uuid)
     AND sc.nonce = CAST(:nonce AS varchar)) AS earlier
FROM events e
WHERE e.id = CAST(:event_id AS uuid)
FOR KEY SHARE OF e
""".format(
            party_pa=_PARTY_JSON.format(p="pa"),
            domains_pa=_DOMAINS_JSON.format(p="pa"),
            party_ot=_PARTY_JSON.format(p="ot"),
            domains_ot=_DOMAINS_JSON.format(p="ot"),
        )
    )
)
_SCAN_VALUES = """CAST(:scan_id AS uuid), CAST(:event_id AS uuid), CAST(:nonce AS varchar),
    CAST(:badge_code AS varchar), CAST(:participant_id AS uuid), CAST(:person_id AS uuid),
    CAST(:kiosk_key_id AS uuid), CAST(:kiosk_name AS varchar), CAST(:at AS timestamptz)"""
_SCAN_COLUMNS = """id, event_id, nonce, badge_code, participant_id, person_id, kiosk_key_id,
    kiosk_name, scanned_at, outcome, created_at"""
# A scan that checks nobody in (refused, unknown badge, event not open) writes only itself. A
# nonce a concurrent request of the same key has just taken inserts nothing.
_DOOR_REFUSAL = DriverStatement(
    text(
        f"""\
INSERT INTO scans ({_SCAN_COLUMNS})
VALUES ({_SCAN_VALUES}, CAST(:outcome AS varchar), CAST(:now AS timestamptz))
ON CONFLICT (kiosk_key_id, nonce) DO NOTHING
RETURNING true AS recorded
"""
    )
)
# A scan of a known badge at an open event writes, in one statement: the person's check-in,
# claimed against its unique person (a second claim, even one racing this one, updates the
# first instead: only to an offline kiosk's earlier time), the scan with what the claim came
# to, and for a first check-in whose scan was recorded the outbox event with a delivery owed
# to every subscription that may hear it (admins' hear every party, a partner's its own).
_DOOR_CHECK_IN = DriverStatement(
    text(
        f"""\
WITH claim AS (
  INSERT INTO checkins (id, event_id, participant_id, person_id, checked_in_at, kiosk_key_id,
                        created_at)
  VALUES (CAST(:checkin_id AS uuid), CAST(:event_id AS uuid), CAST(:participant_id AS uuid),
          CAST(:person_id AS uuid), CAST(:at AS timestamptz), CAST(:kiosk_key_id AS uuid),
          CAST(:now AS timestamptz))
  ON CONFLICT (person_id) DO UPDATE SET checked_in_at = CASE
      WHEN CAST(:offline AS boolean) AND excluded.checked_in_at < checkins.checked_in_at
      THEN excluded.checked_in_at ELSE checkins.checked_in_at END
  RETURNING checkins.checked_in_at, checkins.xmax = 0 AS created
), scan AS (
  INSERT INTO scans ({_SCAN_COLUMNS})
  SELECT {_SCAN_VALUES},
         CASE WHEN claim.created THEN 'checked_in' ELSE 'already_checked_in' END,
         CAST(:now AS timestamptz)
  FROM claim
  ON CONFLICT (kiosk_key_id, nonce) DO NOTHING
  RETURNING id
), outbox AS (
  INSERT INTO outbox_events (id, type, payload, created_at)
  SELECT CAST(:outbox_id AS uuid), 'checkin.created', CAST(:payload AS json),
         CAST(:now AS timestamptz)
  FROM claim WHERE claim.created AND EXISTS (SELECT FROM scan)
  RETURNING id
), owed AS (
  INSERT INTO webhook_deliveries (id, subscription_id, event_id, status, attempts,
                                  next_attempt_at, created_at, updated_at)
  SELECT gen_random_uuid(), ws.id, outbox.id, 'pending', 0, CAST(:now AS timestamptz),
         CAST(:now AS timestamptz), CAST(:now AS timestamptz)
  FROM outbox CROSS JOIN webhook_subscriptions ws
  WHERE ((ws.committee_id IS NULL AND ws.organization_id IS NULL)
         OR ws.committee_id = CAST(:party_id AS uuid)
         OR ws.organization_id = CAST(:party_id AS uuid))
    AND CAST(ws.event_types AS jsonb) @> CAST('["checkin.created"]' AS jsonb)
)
SELECT claim.checked_in_at, claim.created, EXISTS (SELECT FROM scan) AS recorded FROM claim
"""
    )
)


@dataclass(frozen=True, slots=True)
class _DoorEvent:
    """The event as the door's statement reads it."""

    id: uuid.UUID
    state: str
    timezone: str
    date: date
    slots: list[Any]


def _json(value: Any) -> Any:
    """A JSON column as asyncpg hands it over through a textual statement."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _party_name_zh(party: Mapping[str, Any]) -> str:
    """A party's first name, as `Participant.party_names` has it."""
    if party["kind"] == "committee":
        return str(party["name_zh"])
    return str(party["name_zh"] or party["name_en"])


def _at_door(
    found: Any, *, event_id: uuid.UUID, code: str
) -> tuple[_DoorEvent, dict[str, Any] | None, dict[str, Any] | None]:
    """The event, the badge's participant (as JSON) and its person, from the door's read."""
    event = _DoorEvent(
        event_id, found["state"], found["timezone"], found["date"], _json(found["slots"])
    )
    participant: dict[str, Any] | None = _json(found["participant"])
    if participant is None:
        return event, None, None
    return event, participant, next(p for p in participant["people"] if p["badge_code"] == code)


async def check_in_at_door(
    driver: Any,
    *,
    event_id: uuid.UUID,
    badge_code: str,
    nonce: str | None,
    scanned_at: datetime | None,
    principal: Principal,
    clock: DoorClock,
    taxonomy: Taxonomy,
) -> ScanResult:
    """`check_in` on PostgreSQL, where the door runs in production: one statement reads all a
    scan needs, one writes all it changes (none for a replay), sent to asyncpg (`driver`, in
    the transaction of `db.driver_transaction`), and the answer is rendered from plain rows.
    Round trips to a database server, and the ORM's, the session's and SQLAlchemy's execution
    work, were most of a check-in's time.
    It needs what SQLite lacks: INSERTs within a WITH (one write for the check-in, the scan and
    the outbox) and FOR KEY SHARE. SQLite runs in the process, where a statement costs no round
    trip, and keeps `check_in`'s ORM path.

    The transaction stays, although each statement is atomic alone: a claim that loses its
    nonce to a concurrent scan of another badge is rolled back with that scan's 422, and the
    event stays locked against deletion from the read to the write.
    """
    code = normalize_badge_code(badge_code)
    read = {"event_id": event_id, "badge_code": code, "kiosk_key_id": principal.key_id}
    row = await _DOOR_READ.fetchrow(driver, {**read, "nonce": nonce})
    found = visible_event(row, event_id=event_id, principal=principal)
    event, participant, person = _at_door(found, event_id=event_id, code=code)
    if nonce is not None and found["earlier"] is not None:
        return _replay_at_door(
            event,
            participant,
            person,
            code,
            _json(found["earlier"]),
            nonce=nonce,
            principal=principal,
            taxonomy=taxonomy,
        )
    now = utcnow()
    at = scanned_at.astimezone(UTC) if scanned_at else now
    refusal = scan_time_refusal(event, at, now=now, clock=clock)
    outcome: Outcome | None = None
    if event.state != "open":
        outcome = "event_not_open"
    elif refusal:
        outcome = "scan_time_refused"
    elif participant is None or person is None:
        outcome = "unknown_badge"
    scan = {
        "scan_id": new_id(),
        "event_id": event_id,
        "nonce": nonce,
        "badge_code": code,
        "participant_id": participant["id"] if participant else None,
        "person_id": person["id"] if person else None,
        "kiosk_key_id": principal.key_id,
        "kiosk_name": principal.name,
        "at": at,
        "now": now,
    }
    checked_in_at: datetime | None = None
    if outcome is not None:
        refused = await _DOOR_REFUSAL.fetchrow(driver, {**scan, "outcome": outcome})
        recorded = refused is not None
    else:
        assert participant is not None and person is not None
        party = participant["party"]
        payload = {
            "event_id": event_id,
            "participant_id": participant["id"],
            "person_id": person["id"],
            "party": {"kind": party["kind"], "id": party["id"], "name_zh": _party_name_zh(party)},
            "checked_in_at": at,
        }
        claimed = await _DOOR_CHECK_IN.fetchrow(
            driver,
            {
                **scan,
                "checkin_id": new_id(),
                "offline": scanned_at is not None,
                "outbox_id": new_id(),
                "payload": json.dumps(to_jsonable_python(payload)),
                "party_id": party["id"],
            },
        )
        recorded = claimed["recorded"]
        outcome = "checked_in" if claimed["created"] else "already_checked_in"
        checked_in_at = claimed["checked_in_at"].astimezone(UTC)
    if not recorded:
        # The same kiosk sent this nonce twice at once and the other request won: answer as it
        # did, from what it committed (a claim of this request's is rolled back with the 422
        # of a nonce used for another badge, and changed nothing otherwise).
        found = await _DOOR_READ.fetchrow(driver, {**read, "nonce": nonce})
        if found is None or found["earlier"] is None:
            raise RuntimeError("a scan's nonce was taken but its scan is missing")
        event, participant, person = _at_door(found, event_id=event_id, code=code)
        return _replay_at_door(
            event,
            participant,
            person,
            code,
            _json(found["earlier"]),
            nonce=nonce or "",
            principal=principal,
            taxonomy=taxonomy,
        )
    result = ScanResult(outcome, event.state, code, None, None, checked_in_at, detail=refusal)
    if outcome not in SUCCESSFUL:
        return result
    assert participant is not None and person is not None and checked_in_at is not None
    return _answered(
        result, event, participant, person, checked_in_at, principal=principal, taxonomy=taxonomy
    )


def _replay_at_door(
    event: _DoorEvent,
    participant: dict[str, Any] | None,
    person: dict[str, Any] | None,
    code: str,
    earlier: dict[str, Any],
    *,
    nonce: str,
    principal: Principal,
    taxonomy: Taxonomy,
) -> ScanResult:
    """An earlier scan with this nonce answered again, as `_replay` does from the ORM."""
    if earlier["badge_code"] != code:
        raise NonceReused(
            f"This kiosk already used nonce {nonce!r} for badge {earlier['badge_code']}, not "
            f"{code}; every scan needs a nonce of its own.",
            errors=[
                {"field": "nonce", "message": f"already used for badge {earlier['badge_code']}"}
            ],
        )
    scanned_at = _time(earlier["scanned_at"])
    checked_in_at = None
    if participant is not None and person is not None:
        present = {c["person_id"]: c["at"] for c in participant["checkins"] or ()}
        checked_in_at = _time(present[person["id"]]) if person["id"] in present else None
        if checked_in_at is None and earlier["outcome"] in SUCCESSFUL:
            # Undone since: the scan is answered as it was, at its own time.
            checked_in_at = scanned_at
    detail = ""
    if earlier["outcome"] == "scan_time_refused":
        detail = f"The scan time {scanned_at.isoformat()} was refused when first sent."
    result = ScanResult(
        earlier["outcome"],
        event.state,
        code,
        None,
        None,
        checked_in_at,
        replayed=True,
        detail=detail,
    )
    if earlier["outcome"] in ("event_not_open", "scan_time_refused"):
        return result
    if participant is None or person is None or checked_in_at is None:
        return result
    return _answered(
        result, event, participant, person, checked_in_at, principal=principal, taxonomy=taxonomy
    )


def _answered(
    result: ScanResult,
    event: _DoorEvent,
    participant: dict[str, Any],
    person: dict[str, Any],
    checked_in_at: datetime,
    *,
    principal: Principal,
    taxonomy: Taxonomy,
) -> ScanResult:
    """The scan with its answer rendered from the door's rows, as the route renders the ORM's."""
    person_id = uuid.UUID(person["id"])
    checkins = participant["checkins"] or ()
    present = {uuid.UUID(c["person_id"]): _time(c["at"]) for c in checkins if c["person_id"]}
    if not result.replayed:
        # What the claim returned is newer than the read (a racing kiosk's, an earlier time).
        present[person_id] = checked_in_at
    arrived = min(
        [_time(c["at"]) for c in checkins if c["person_id"] != person["id"]]
        + ([present[person_id]] if person_id in present else []),
        default=None,
    )
    committee_id = participant["committee_id"] and uuid.UUID(participant["committee_id"])
    organization_id = participant["organization_id"] and uuid.UUID(participant["organization_id"])
    private = principal.is_admin or principal.is_party(
        committee_id=committee_id, organization_id=organization_id
    )
    sees_badge = private or principal.role == "kiosk"
    people = [
        PersonOut(
            id=p["id"],
            name=p["name"],
            title=p["title"],
            phone=p["phone"] if private else None,
            email=p["email"] if private else None,
            badge_code=p["badge_code"] if sees_badge else None,
            checked_in_at=present.get(uuid.UUID(p["id"])),
        )
        for p in participant["people"]
    ]
    party = participant["party"]
    times = slot_times(event)
    own_domains = participant["domains"] or []
    agenda = []
    for meeting in participant["agenda"] or ():
        theirs = set(meeting["domains"] or ())
        other = meeting["counterpart"]["party"]
        start, end = times[meeting["slot"] - 1]
        agenda.append(
            {
                "slot": meeting["slot"],
                "start": start,
                "end": end,
                "table": meeting["table"],
                "status": meeting["status"],
                "counterpart": {
                    "participant_id": meeting["counterpart"]["id"],
                    "name_zh": _party_name_zh(other),
                    "name_en": other["name_en"],
                    "designation": other["designation"],
                },
                "shared_domains": [
                    {
                        "code": c,
                        "name_en": taxonomy.by_code[c].name_en,
                        "name_zh": taxonomy.by_code[c].name_zh_hans,
                    }
                    for c in own_domains
                    if c in theirs
                ],
            }
        )
    answer = CheckInOut(
        reason=None if result.outcome == "checked_in" else "already_checked_in",
        checked_in_at=checked_in_at,
        participant=ParticipantOut(
            id=participant["id"],
            event_id=participant["event_id"],
            party=Party(**party),
            badge_code=participant["badge_code"] if sees_badge else None,
            people=people,
            unavailable_slots=participant["unavailable_slots"],
            min_meetings=participant["min_meetings"],
            max_meetings=participant["max_meetings"],
            checked_in_at=arrived,
            version=participant["version"],
            created_at=_time(participant["created_at"]),
        ),
        agenda=agenda,
        person=next(p for p in people if p.id == person_id),
    )
    return replace(result, answer=answer)


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
