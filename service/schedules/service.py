"""The event's schedule: pair weights, the engine's run, drafts, publishing and the grid."""

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from service.config import Settings
from service.directory.taxonomy import Taxonomy as Forest
from service.errors import Conflict, PreconditionFailed
from service.matching import service as matching
from service.meetings.service import current_schedule
from service.models import (
    Committee,
    Event,
    Meeting,
    MeetingRequest,
    Organization,
    Participant,
    Preference,
    Schedule,
)
from service.models.columns import utcnow
from service.participants.service import participants_query
from service.scoring.reference import score_pair
from service.solver.problem import (
    Attendee,
    Candidate,
    Placement,
    Problem,
    Progress,
    Solution,
)
from service.versions import etag, matches
from service.webhooks import service as webhooks

log = logging.getLogger(__name__)


class NotEnoughTables(Conflict):
    code, title = "not_enough_tables", "More committees than tables"


class NoDraft(Conflict):
    code, title = "no_draft", "No draft schedule to publish"


@dataclass(frozen=True)
class Pair:
    committee: uuid.UUID
    organization: uuid.UUID
    weight: int
    required: bool


async def committee_tables(session: AsyncSession, *, event: Event) -> dict[uuid.UUID, int]:
    """Each committee's own table: set by hand, or the lowest free ones in designation order."""
    participants = (await session.scalars(participants_query(event.id))).all()
    committees = sorted(
        (p for p in participants if p.committee is not None),
        key=lambda p: (p.committee.designation if p.committee else "", str(p.id)),
    )
    if len(committees) > event.tables:
        raise NotEnoughTables(
            f"{len(committees)} committees each keep a table, but the event has {event.tables}."
        )
    taken = {p.table_number for p in committees if p.table_number is not None}
    free = iter(t for t in range(1, event.tables + 1) if t not in taken)
    for p in committees:
        if p.table_number is None:
            p.table_number = next(free)
    await session.flush()
    return {p.id: p.table_number for p in committees if p.table_number is not None}


async def participants_with_domains(
    session: AsyncSession, *, event_id: uuid.UUID
) -> list[Participant]:
    """The event's participants with their parties' domains loaded, for scoring; in a stable
    order, the engine's input order (where the engine breaks ties by it, two reads of the same
    event must give it the same input)."""
    stmt = (
        participants_query(event_id)
        .options(
            joinedload(Participant.committee).selectinload(Committee.domains),
            joinedload(Participant.organization).selectinload(Organization.domains),
        )
        .order_by(Participant.id)
    )
    return list((await session.scalars(stmt)).all())


async def match_scores(
    session: AsyncSession, *, participants: list[Participant], settings: Settings, forest: Forest
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """The match score (hundredths) of every committee–organization pair of these participants."""
    domains = await matching.load_domains(session, forest=forest)
    weights = settings.scoring_weights()
    profiles = {
        p.id: matching.party_of(party, domains=domains).profile(weights=weights)
        for p in participants
        if (party := p.committee or p.organization) is not None
    }
    committees = [p.id for p in participants if p.committee_id is not None]
    organizations = [p.id for p in participants if p.organization_id is not None]
    return {
        (c, o): score_pair(
            taxonomy=domains.taxonomy,
            weights=weights,
            committee=profiles[c],
            organization=profiles[o],
        )
        for c in committees
        for o in organizations
    }


def worth_meeting(score_hundredths: int, *, event: Event) -> bool:
    """Whether a pair scores enough for the scheduler to seat it unasked (and for the report
    to miss it when it did not meet)."""
    return score_hundredths > 0 and score_hundredths >= round(event.min_meeting_score * 100)


async def pair_weights(
    session: AsyncSession, *, event: Event, settings: Settings, forest: Forest
) -> tuple[list[Participant], list[Pair]]:
    """The event's participants and every pair worth meeting, with its weight.

    weight = match score (hundredths, 0 to 10,000) + a bonus per must-meet and would-like mark
    and for a request; an accepted request is also required. Do-not-meet from either side
    removes the pair. A pair scoring under the event's `min_meeting_score` is a candidate only
    when one side asked the other or marked it must-meet.
    """
    participants = await participants_with_domains(session, event_id=event.id)
    scores = await match_scores(
        session, participants=participants, settings=settings, forest=forest
    )
    preferences = (
        await session.scalars(select(Preference).where(Preference.event_id == event.id))
    ).all()
    marks: dict[frozenset[uuid.UUID], list[str]] = {}
    for pref in preferences:
        marks.setdefault(frozenset((pref.participant_id, pref.counterpart_id)), []).append(
            pref.kind
        )
    requests = (
        await session.scalars(
            select(MeetingRequest).where(
                MeetingRequest.event_id == event.id,
                MeetingRequest.state.in_(("pending", "accepted")),
            )
        )
    ).all()
    asked = {frozenset((r.from_participant_id, r.to_participant_id)) for r in requests}
    # Both parties may have asked each other, one request accepted and one pending: the pair
    # is required when any is accepted, whatever order the rows come in.
    accepted = {
        frozenset((r.from_participant_id, r.to_participant_id))
        for r in requests
        if r.state == "accepted"
    }
    bonus = {
        "must_meet": settings.schedule_bonus_must_meet,
        "would_like": settings.schedule_bonus_would_like,
    }
    pairs = []
    committees = [p for p in participants if p.committee_id is not None]
    organizations = [p for p in participants if p.organization_id is not None]
    for c in committees:
        for o in organizations:
            key = frozenset((c.id, o.id))
            kinds = marks.get(key, [])
            if "do_not_meet" in kinds:
                continue
            score = scores[(c.id, o.id)]
            asked_for = key in asked or "must_meet" in kinds
            # Under the floor only when asked for; a floor of 0 lets every pair of positive
            # weight in, a would-like mark on a pair scoring 0 included, as before there was one.
            if not asked_for and score < round(event.min_meeting_score * 100):
                continue
            weight = (
                score
                + sum(bonus[k] for k in kinds)
                + (settings.schedule_bonus_request if key in asked else 0)
            )
            if weight > 0:
                pairs.append(Pair(c.id, o.id, weight, key in accepted))
    return participants, pairs


def _engine_event(
    event: Event,
    participants: list[Participant],
    pairs: list[Pair],
    tables: dict[uuid.UUID, int],
    locked: list[Meeting],
) -> Problem:
    fixed = {(m.committee_participant_id, m.organization_participant_id): m for m in locked}
    candidates = []
    for pair in pairs:
        kept = fixed.pop((pair.committee, pair.organization), None)
        candidates.append(
            Candidate(
                a=str(pair.committee),
                b=str(pair.organization),
                weight=pair.weight,
                required=pair.required or kept is not None,
                slot=kept.slot if kept else None,
                locked=kept is not None,
                table=kept.table_number if kept else None,
            )
        )
    # A held or locked meeting stays even when its pair has since lost its weight.
    candidates.extend(
        Candidate(
            a=str(m.committee_participant_id),
            b=str(m.organization_participant_id),
            weight=0,
            required=True,
            slot=m.slot,
            locked=True,
            table=m.table_number,
        )
        for m in fixed.values()
    )
    return Problem(
        slots=len(event.slots),
        tables=event.tables,
        participants=tuple(
            Attendee(
                id=str(p.id),
                kind="committee" if p.committee_id else "organization",
                unavailable=frozenset(p.unavailable_slots),
                min_meetings=p.min_meetings,
                max_meetings=p.max_meetings,
                table=tables.get(p.id),
            )
            for p in participants
        ),
        candidates=tuple(candidates),
    )


@dataclass(frozen=True)
class EngineInput:
    """What one run of the engine takes, read from the database, and what saving its answer
    needs; picklable, so the run can happen in another process."""

    problem: Problem
    previous: tuple[Placement, ...]
    weights: dict[tuple[str, str], int]
    carried: dict[tuple[str, str], tuple[str, bool, str]]


async def engine_input(
    session: AsyncSession, *, event: Event, settings: Settings, forest: Forest
) -> EngineInput:
    """Read the event as the engine sees it; seats each committee at its table first."""
    tables = await committee_tables(session, event=event)
    participants, pairs = await pair_weights(session, event=event, settings=settings, forest=forest)
    published = await current_schedule(session, event_id=event.id, state="published")
    previous = (
        list(
            (
                await session.scalars(
                    select(Meeting)
                    .where(Meeting.schedule_id == published.id, Meeting.status != "cancelled")
                    .order_by(Meeting.slot, Meeting.table_number)
                )
            ).all()
        )
        if published
        else []
    )
    keep = [m for m in previous if m.locked or m.status in ("held", "no_show")]
    return EngineInput(
        problem=_engine_event(event, participants, pairs, tables, keep),
        previous=tuple(placement_of(m) for m in previous),
        weights={(str(p.committee), str(p.organization)): p.weight for p in pairs},
        carried={
            (str(m.committee_participant_id), str(m.organization_participant_id)): (
                m.status,
                m.locked,
                m.notes,
            )
            for m in previous
        },
    )


def placement_of(meeting: Meeting) -> Placement:
    """A stored meeting as the engine states it (participants by id)."""
    return Placement(
        slot=meeting.slot,
        table=meeting.table_number,
        a=str(meeting.committee_participant_id),
        b=str(meeting.organization_participant_id),
    )


def run_engine(
    given: EngineInput,
    *,
    mode: str,
    fairness: int | None,
    time_limit: float,
    progress: Callable[[Progress], None] | None = None,
) -> Solution:
    """One run of the engine on what `engine_input` read (CPU-bound: call it off the loop)."""
    # The solvers (OR-Tools with pandas, PySAT: about 0.5 s of CPU to import) load where a
    # build runs, not in every web worker and command that never builds.
    from service.solver import engine

    result = engine.schedule_event(
        event=given.problem,
        mode=mode,  # type: ignore[arg-type]
        previous=given.previous,
        fairness=fairness,
        time_limit=time_limit,
        progress=progress,
    )
    if not result.repeatable:
        log.warning(
            "the build ran %.0f s on a limit of %.0f s of work: the wall-clock guard cut it, so "
            "another build of the same input may give another schedule",
            result.seconds,
            time_limit,
        )
    return result


async def save_draft(
    session: AsyncSession, *, event_id: uuid.UUID, mode: str, given: EngineInput, result: Solution
) -> Schedule:
    """Keep the engine's answer as the event's one draft, replacing the one before."""
    await session.execute(
        delete(Schedule).where(Schedule.event_id == event_id, Schedule.state == "draft")
    )
    objective = result.objective
    schedule = Schedule(
        event_id=event_id,
        state="draft",
        mode=mode,
        status=result.status,
        total_weight=objective.weight if objective else 0,
        weight_bound=result.weight_bound,
        objective={
            "required_missing": objective.required_missing,
            "shortfall": objective.shortfall,
            "weight": objective.weight,
            "changes": objective.changes,
            "breaks": objective.breaks,
        }
        if objective
        else {},
        unmet=[{"kind": u.kind, "who": list(u.who), "reason": u.reason} for u in result.unmet],
        seconds=round(result.seconds, 3),
    )
    session.add(schedule)
    await session.flush()
    for placed in result.meetings:
        status, locked, notes = given.carried.get((placed.a, placed.b), ("scheduled", False, ""))
        session.add(
            Meeting(
                event_id=event_id,
                schedule_id=schedule.id,
                committee_participant_id=uuid.UUID(placed.a),
                organization_participant_id=uuid.UUID(placed.b),
                slot=placed.slot,
                table_number=placed.table,
                weight=given.weights.get((placed.a, placed.b), 0),
                status=status,
                locked=locked,
                notes=notes,
            )
        )
    await session.flush()
    return schedule


async def build(
    session: AsyncSession,
    *,
    event: Event,
    mode: str,
    fairness: int | None,
    time_limit: float,
    settings: Settings,
    forest: Forest,
) -> Schedule:
    """Read, run the engine on a thread and keep its answer, in one transaction (tests, tools;
    the API runs builds as jobs: service/jobs)."""
    given = await engine_input(session, event=event, settings=settings, forest=forest)
    result = await asyncio.to_thread(
        run_engine, given, mode=mode, fairness=fairness, time_limit=time_limit
    )
    return await save_draft(session, event_id=event.id, mode=mode, given=given, result=result)


async def publish(session: AsyncSession, *, event: Event, if_match: str | None = None) -> Schedule:
    """Make the newest draft the published schedule; the one before is superseded.

    With If-Match (the ETag its build answered: the draft's id), only the draft of that build:
    412 when another build has replaced it since. Hand edits to its meetings, each made against
    the meeting's own version, are published with it.

    The draft is locked: a second publisher waits and then finds no draft (409), and a build
    finishing meanwhile leaves the published schedule alone (it replaces drafts only).
    """
    draft = await current_schedule(session, event_id=event.id, state="draft", lock=True)
    if draft is None:
        raise NoDraft("Build a draft first (POST /v1/events/{id}/schedule).")
    if if_match and not matches(if_match, draft.id):
        raise PreconditionFailed(
            f"The newest draft is {draft.id}, from a build after the one you name; review it "
            f'(GET /v1/events/{{id}}/schedule) and publish it with If-Match: "{draft.id}".',
            current_etag=etag(draft.id),
        )
    await session.execute(
        update(Schedule)
        .where(Schedule.event_id == event.id, Schedule.state == "published")
        .values(state="superseded")
    )
    draft.state = "published"
    draft.published_at = utcnow()
    await session.flush()
    participants = (await session.scalars(participants_query(event.id))).all()
    await webhooks.emit(
        session,
        type="schedule.published",
        data={
            "event_id": event.id,
            "schedule_id": draft.id,
            "meetings": await meeting_count(session, schedule_id=draft.id),
            "status": draft.status,
            "published_at": draft.published_at,
        },
        parties=[party for p in participants if (party := p.committee_id or p.organization_id)],
    )
    return draft


async def meeting_count(session: AsyncSession, *, schedule_id: uuid.UUID) -> int:
    """Live meetings in a schedule."""
    rows = await session.scalars(
        select(Meeting.id).where(Meeting.schedule_id == schedule_id, Meeting.status != "cancelled")
    )
    return len(rows.all())


def unmet_out(schedule: Schedule, names: dict[str, Any]) -> list[dict[str, Any]]:
    """What could not be satisfied, with the parties named."""
    return [
        {
            "kind": u["kind"],
            "participants": [names[w] for w in u["who"] if w in names],
            "reason": u["reason"],
        }
        for u in schedule.unmet
    ]
