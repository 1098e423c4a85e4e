"""Check-in at the door: one record per participant, replayable scans, every failure kept."""

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.service import Principal
from service.badges import normalize_badge_code
from service.errors import problem_body
from service.events import service as events
from service.models import CheckIn, Event, Participant, Scan
from service.models.columns import new_id, utcnow
from service.statements import UPSERT_INSERTS, table_of
from service.webhooks import service as webhooks

# The door's statements are built once: building and keying them again for every scan took
# more of a check-in's CPU than running them (pyinstrument, in-process check-ins on PostgreSQL).
# Those that load no object are on the tables, not the mapped classes, so they skip the ORM's
# per-statement work, which took about as much again.
_SCANS = table_of(Scan)
_CHECKINS = table_of(CheckIn)
# A repeat of a nonce (also a concurrent one, which waits for the first to commit) inserts
# nothing; a second check-in of a participant neither. Their columns are the parameters'.
_CLAIM_SCAN = {
    name: insert(_SCANS)
    .on_conflict_do_nothing(index_elements=["event_id", "nonce"])
    .returning(_SCANS.c.id)
    for name, insert in UPSERT_INSERTS.items()
}
_CLAIM_CHECKIN = {
    name: insert(_CHECKINS)
    .on_conflict_do_nothing(index_elements=["participant_id"])
    .returning(_CHECKINS.c.checked_in_at)
    for name, insert in UPSERT_INSERTS.items()
}
_ANSWER_SCAN = (
    update(_SCANS)
    .where(_SCANS.c.id == bindparam("scan_id"))
    .values(
        participant_id=bindparam("participant_id"),
        outcome=bindparam("outcome"),
        response_status=bindparam("response_status"),
        response_body=bindparam("response_body"),
    )
)
_EARLIER_CHECKIN = (
    select(CheckIn).where(CheckIn.participant_id == bindparam("participant_id")).with_for_update()
)
_REPLAY = select(Scan).where(
    Scan.event_id == bindparam("event_id"), Scan.nonce == bindparam("nonce")
)


def party_kind(participant: Participant) -> str:
    """committee, enterprise, association or institute."""
    if participant.committee_id is not None:
        return "committee"
    assert participant.organization is not None
    return participant.organization.kind


async def check_in(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    badge_code: str,
    nonce: str | None,
    scanned_at: datetime | None,
    principal: Principal,
    path: str,
    render: Any,
) -> tuple[int, dict[str, Any]]:
    """Check a badge in and return the answer's status and body; the scan is kept either way.

    Failures are answers here, not exceptions: the scan that failed must be committed. An
    unknown event (404) or one the key may not serve (403) is raised before any scan is kept.
    `render(event, participant, checked_in_at, reason)` builds the success body.
    """
    code = normalize_badge_code(badge_code)
    # Read before the nonce is claimed, so a replay loads a participant it does not use: one
    # query either way, and a first scan, the common case, needs no second one.
    event, participant = await events.event_at_door(
        session, event_id=event_id, badge_code=code, principal=principal
    )
    at = scanned_at.astimezone(UTC) if scanned_at else utcnow()
    # Claim the nonce first, in one statement: a repeat replays the first answer.
    scan_id = await session.scalar(
        _CLAIM_SCAN[session.get_bind().dialect.name],
        {
            "id": new_id(),
            "event_id": event.id,
            "nonce": nonce,
            "badge_code": code,
            "kiosk_key_id": principal.key_id,
            "kiosk_name": principal.name,
            "scanned_at": at,
            "outcome": "unknown_badge",
            "response_status": 0,
            "response_body": {},
            "created_at": utcnow(),
        },
    )
    if scan_id is None:
        replay = await _replay(session, event_id=event.id, nonce=nonce or "")
        if replay is None:
            raise RuntimeError("a scan's nonce was taken but its answer is missing")
        return replay
    status, body = await _decide(
        session,
        offline=scanned_at is not None,
        event=event,
        participant=participant,
        at=at,
        principal=principal,
        path=path,
        render=render,
        code=code,
    )
    await session.execute(
        _ANSWER_SCAN,
        {
            "scan_id": scan_id,
            "participant_id": participant.id if participant is not None else None,
            "outcome": body.get("reason") or ("checked_in" if status == 201 else body["code"]),
            "response_status": status,
            "response_body": body,
        },
    )
    return status, body


async def _decide(
    session: AsyncSession,
    *,
    offline: bool,
    event: Event,
    participant: Participant | None,
    at: datetime,
    principal: Principal,
    path: str,
    render: Any,
    code: str,
) -> tuple[int, dict[str, Any]]:
    if event.state != "open":
        return 409, problem_body(
            status=409,
            code="event_not_open",
            title="Event is not open for check-in",
            detail=f"The event is {event.state}; check-in opens when an organizer opens it.",
            instance=path,
            reason="event_not_open",
        )
    if participant is None:
        return 404, problem_body(
            status=404,
            code="unknown_badge",
            title="Unknown badge",
            detail=f"No participant of this event has badge {code}.",
            instance=path,
            reason="unknown_badge",
        )
    # One check-in per participant, whatever the number of kiosks: the unique constraint
    # decides, and the loser of a race reads the winner's record.
    checked_in_at = await session.scalar(
        _CLAIM_CHECKIN[session.get_bind().dialect.name],
        {
            "id": new_id(),
            "event_id": event.id,
            "participant_id": participant.id,
            "checked_in_at": at,
            "kiosk_key_id": principal.key_id,
            "created_at": utcnow(),
        },
    )
    if checked_in_at is None:
        existing = await session.scalar(_EARLIER_CHECKIN, {"participant_id": participant.id})
        assert existing is not None
        # Offline kiosks upload in any order: the check-in time is the earliest scan they
        # report. A live scan that merely lost a race to another kiosk changes nothing.
        if offline and at < existing.checked_in_at:
            existing.checked_in_at = at
            await session.flush()
        return 200, await render(event, participant, existing.checked_in_at, "already_checked_in")
    await webhooks.emit(
        session,
        type="checkin.created",
        data={
            "event_id": event.id,
            "participant_id": participant.id,
            "party": {
                "kind": party_kind(participant),
                "id": participant.committee_id or participant.organization_id,
                "name_zh": events.party_names(participant)[0],
            },
            "checked_in_at": checked_in_at,
        },
        parties=[participant.committee_id or participant.organization_id],  # type: ignore[list-item]
    )
    return 201, await render(event, participant, checked_in_at, None)


async def _replay(
    session: AsyncSession, *, event_id: uuid.UUID, nonce: str
) -> tuple[int, dict[str, Any]] | None:
    scan = await session.scalar(_REPLAY, {"event_id": event_id, "nonce": nonce})
    if scan is None or not scan.response_status:
        return None
    return scan.response_status, scan.response_body


async def status(session: AsyncSession, *, event_id: uuid.UUID) -> dict[str, Any]:
    """Registered, checked in and still expected, in total and by kind of party."""
    participants = (await session.scalars(events.participants_query(event_id))).all()
    arrived = await events.checked_in_times(session, participant_ids=[p.id for p in participants])
    registered = Counter(party_kind(p) for p in participants)
    checked = Counter(party_kind(p) for p in participants if p.id in arrived)

    def counts(r: int, c: int) -> dict[str, int]:
        return {"registered": r, "checked_in": c, "expected": r - c}

    return {
        "total": counts(sum(registered.values()), sum(checked.values())),
        "by_kind": {
            kind: counts(registered[kind], checked[kind])
            for kind in ("committee", "enterprise", "association", "institute")
        },
    }
