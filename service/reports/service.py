"""What an event achieved, and the same across events: counted from the records themselves."""

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.directory.taxonomy import Taxonomy as Forest
from service.events import service as events
from service.meetings.service import current_schedule, party_name
from service.models import (
    CheckIn,
    Event,
    Intent,
    IntentDomain,
    Meeting,
    Memorandum,
    MemorandumDomain,
)
from service.participants.service import participants_query
from service.schedules.service import match_scores, participants_with_domains, worth_meeting

KINDS = ("committee", "enterprise", "association", "institute")
MISSED_PAIRS = 10


def _kinds(counter: Counter[str]) -> dict[str, int]:
    return {**{k: counter[k] for k in KINDS}, "total": sum(counter[k] for k in KINDS)}


async def _agreements(
    session: AsyncSession, records: Sequence[Any], link: Any, owner: Any, *, forest: Forest
) -> dict[str, Any]:
    """Intents' or memoranda's figures: how many, by state and by domain."""
    return {
        "total": len(records),
        "by_state": dict(sorted(Counter(r.state for r in records).items())),
        "by_domain": await _by_domain(
            session, link, owner, [r.id for r in records], taxonomy=forest
        ),
    }


async def _by_domain(
    session: AsyncSession, link: Any, owner: Any, ids: list[uuid.UUID], *, taxonomy: Forest
) -> list[dict[str, Any]]:
    rows = (
        (await session.execute(select(link.domain_id).where(owner.in_(ids)))).all() if ids else []
    )
    counts = Counter(domain_id for (domain_id,) in rows)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], taxonomy.code_of(item[0])))
    return [
        {
            "code": taxonomy.code_of(d),
            "name_en": taxonomy.by_id[d].name_en,
            "name_zh": taxonomy.by_id[d].name_zh_hans,
            "count": n,
        }
        for d, n in ranked
    ]


async def figures(
    session: AsyncSession, *, event_list: list[Event], forest: Forest
) -> dict[str, Any]:
    """Participants, check-ins, meetings, intents and memoranda of these events."""
    event_ids = [e.id for e in event_list]
    participants = [
        p for e in event_ids for p in (await session.scalars(participants_query(e))).all()
    ]
    arrived = (
        set(
            (
                await session.scalars(
                    select(CheckIn.participant_id).where(CheckIn.event_id.in_(event_ids))
                )
            ).all()
        )
        if event_ids
        else set()
    )
    registered = Counter(p.party_kind for p in participants)
    checked = Counter(p.party_kind for p in participants if p.id in arrived)

    statuses: Counter[str] = Counter()
    per_slot: Counter[int] = Counter()
    for event in event_list:
        schedule = await current_schedule(session, event_id=event.id, state="published")
        if schedule is None:
            continue
        for meeting in (
            await session.scalars(select(Meeting).where(Meeting.schedule_id == schedule.id))
        ).all():
            statuses[meeting.status] += 1
            if meeting.status != "cancelled":
                per_slot[meeting.slot] += 1
    starts = events.slot_times(event_list[0]) if len(event_list) == 1 else []
    slots = max([len(e.slots) for e in event_list], default=0)

    intents = (
        (await session.scalars(select(Intent).where(Intent.event_id.in_(event_ids)))).all()
        if event_ids
        else []
    )
    memoranda = (
        (await session.scalars(select(Memorandum).where(Memorandum.event_id.in_(event_ids)))).all()
        if event_ids
        else []
    )
    return {
        "participants": _kinds(registered),
        "checked_in": _kinds(checked),
        "meetings": {
            "scheduled": sum(n for s, n in statuses.items() if s != "cancelled"),
            "held": statuses["held"],
            "no_show": statuses["no_show"],
            "cancelled": statuses["cancelled"],
            "by_slot": [
                {
                    "slot": s,
                    "start": f"{starts[s - 1][0]:%H:%M}" if starts else "",
                    "meetings": per_slot[s],
                }
                for s in range(1, slots + 1)
            ],
        },
        "intents": await _agreements(
            session, intents, IntentDomain, IntentDomain.intent_id, forest=forest
        ),
        "memoranda": await _agreements(
            session, memoranda, MemorandumDomain, MemorandumDomain.memorandum_id, forest=forest
        ),
    }


async def event_report(
    session: AsyncSession, *, event: Event, settings: Settings, forest: Forest
) -> dict[str, Any]:
    """The event's figures and the best-matched pairs that did not meet."""
    report = await figures(session, event_list=[event], forest=forest)
    participants = await participants_with_domains(session, event_id=event.id)
    by_id = {p.id: p for p in participants}
    scores = await match_scores(
        session, participants=participants, settings=settings, forest=forest
    )
    schedule = await current_schedule(session, event_id=event.id, state="published")
    met: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if schedule is not None:
        rows = await session.execute(
            select(Meeting.committee_participant_id, Meeting.organization_participant_id).where(
                Meeting.schedule_id == schedule.id, Meeting.status.in_(("scheduled", "held"))
            )
        )
        met = {(c, o) for c, o in rows.all()}
    missed = sorted(
        # The scheduler's own measure: a pair under the event's minimum was never meant to
        # meet unasked, so missing it is no loss to report.
        (
            (score, pair)
            for pair, score in scores.items()
            if pair not in met and worth_meeting(score, event=event)
        ),
        key=lambda item: (-item[0], str(item[1][0]), str(item[1][1])),
    )[:MISSED_PAIRS]
    return {
        "event": {
            "id": event.id,
            "name_zh": event.name_zh,
            "name_en": event.name_en,
            "date": event.date,
            "venue": event.venue,
        },
        **report,
        "best_matches_not_met": [
            {
                "committee": party_name(by_id[c]),
                "organization": party_name(by_id[o]),
                "score": score / 100,
            }
            for score, (c, o) in missed
        ],
    }


async def summary(
    session: AsyncSession, *, date_from: date | None, date_to: date | None, forest: Forest
) -> dict[str, Any]:
    """The same figures over every event held in the date range."""
    stmt = select(Event).order_by(Event.date, Event.id)
    if date_from is not None:
        stmt = stmt.where(Event.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Event.date <= date_to)
    event_list = list((await session.scalars(stmt)).all())
    return {
        "date_from": date_from,
        "date_to": date_to,
        "events": [
            {
                "id": e.id,
                "name_zh": e.name_zh,
                "name_en": e.name_en,
                "date": e.date,
                "venue": e.venue,
            }
            for e in event_list
        ],
        **await figures(session, event_list=event_list, forest=forest),
    }


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The report flattened to (section, item, value) rows for CSV and XLSX."""
    rows: list[list[Any]] = []
    for section in ("participants", "checked_in"):
        rows += [[section, kind, n] for kind, n in report[section].items()]
    meetings = report["meetings"]
    rows += [
        ["meetings", key, meetings[key]] for key in ("scheduled", "held", "no_show", "cancelled")
    ]
    rows += [
        ["meetings_by_slot", f"slot {s['slot']} {s['start']}".strip(), s["meetings"]]
        for s in meetings["by_slot"]
    ]
    for section in ("intents", "memoranda"):
        rows.append([section, "total", report[section]["total"]])
        rows += [
            [f"{section}_by_state", state, n] for state, n in report[section]["by_state"].items()
        ]
        rows += [
            [f"{section}_by_domain", f"{d['code']} {d['name_zh']}", d["count"]]
            for d in report[section]["by_domain"]
        ]
    for pair in report.get("best_matches_not_met", []):
        rows.append(
            [
                "best_matches_not_met",
                f"{pair['committee']['name_zh']} × {pair['organization']['name_zh']}",
                pair["score"],
            ]
        )
    return rows
