"""How well the scores agree with what the demo's parties actually agreed; prints figures.

    .venv/bin/python -m bench.match_quality [--time-limit 10]

On a throw-away SQLite database with the demo loaded, through the service's own functions:

- for each of the 14 intents and each committee–organization pair of the 4 memoranda, the
  rank of the counterpart in both directions (the organization among the committee's
  recommended organizations, the committee among the organization's recommended committees);
  hits@3 and mean reciprocal rank per direction, and "either" (the better of the two);
- a schedule built for the demo event, and the meetings in it scoring under the event's
  minimum without a request or a must-meet mark (goal: none);
- the same with the domain codes of the 35 organizations removed, so that their domains are
  read from their own words (goal: hits@3 within 10 points of the coded run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Ranks:
    label: str
    committee: str
    organization: str
    by_committee: int | None  # the organization's place among the committee's recommendations
    by_organization: int | None  # the committee's place among the organization's


def _mrr(ranks: list[int | None]) -> float:
    return sum(1 / r for r in ranks if r) / len(ranks)


def _hits(ranks: list[int | None], k: int = 3) -> float:
    return sum(1 for r in ranks if r and r <= k) / len(ranks)


async def pair_ranks(session: AsyncSession) -> list[Ranks]:
    """The rank of each agreed counterpart in both directions."""
    from service.demo.load import demo_file
    from service.directory.taxonomy import load_taxonomy
    from service.matching.service import recommend
    from service.models import Committee, Organization
    from service.scoring.weights import ScoringWeights

    forest = await load_taxonomy(session)
    committees = {c.designation: c for c in (await session.scalars(select(Committee))).all()}
    organizations = {o.credit_code: o for o in (await session.scalars(select(Organization))).all()}
    agreements = demo_file("agreements.json")
    pairs: list[tuple[str, str, str]] = [
        (f"intent {n + 1}", i["committee"], i["organization"])
        for n, i in enumerate(agreements["intents"])
    ]
    for n, m in enumerate(agreements["memoranda"]):
        pairs += [
            (f"memorandum {n + 1}", c, o) for c in m["committees"] for o in m["organizations"]
        ]
    cache: dict[tuple[str, uuid.UUID], list[uuid.UUID]] = {}

    async def ranking(side: Any, party_id: uuid.UUID) -> list[uuid.UUID]:
        if (side, party_id) not in cache:
            found = await recommend(
                session,
                party_id=party_id,
                side=side,
                weights=ScoringWeights(),
                forest=forest,
                limit=100,
                min_score=0,
                domain=None,
            )
            cache[side, party_id] = [s.party.id for s in found.items]
        return cache[side, party_id]

    out = []
    for label, designation, credit_code in pairs:
        c, o = committees[designation], organizations[credit_code]
        by_c = await ranking("committee", c.id)
        by_o = await ranking("organization", o.id)
        out.append(
            Ranks(
                label,
                designation,
                o.name_zh,
                by_c.index(o.id) + 1 if o.id in by_c else None,
                by_o.index(c.id) + 1 if c.id in by_o else None,
            )
        )
    return out


async def schedule_figures(session: AsyncSession, *, time_limit: float) -> dict[str, Any]:
    """Build the demo's schedule; how many of its meetings score under the event's minimum."""
    from service.config import get_settings
    from service.directory.taxonomy import load_taxonomy
    from service.models import Event, Meeting, MeetingRequest, Preference
    from service.schedules.service import build, match_scores, participants_with_domains

    settings = get_settings()
    forest = await load_taxonomy(session)
    event = (await session.scalars(select(Event))).one()
    schedule = await build(
        session,
        event=event,
        mode="rebuild",
        fairness=None,
        time_limit=time_limit,
        settings=settings,
        forest=forest,
    )
    meetings = (
        await session.scalars(select(Meeting).where(Meeting.schedule_id == schedule.id))
    ).all()
    participants = await participants_with_domains(session, event_id=event.id)
    scores = await match_scores(
        session, participants=participants, settings=settings, forest=forest
    )
    asked = {
        frozenset((r.from_participant_id, r.to_participant_id))
        for r in (
            await session.scalars(
                select(MeetingRequest).where(MeetingRequest.state.in_(("pending", "accepted")))
            )
        ).all()
    } | {
        frozenset((p.participant_id, p.counterpart_id))
        for p in (
            await session.scalars(select(Preference).where(Preference.kind == "must_meet"))
        ).all()
    }
    floor = round(event.min_meeting_score * 100)
    under = [
        m
        for m in meetings
        if scores[m.committee_participant_id, m.organization_participant_id] < floor
    ]
    unasked = [
        m
        for m in under
        if frozenset((m.committee_participant_id, m.organization_participant_id)) not in asked
    ]
    values = sorted(
        scores[m.committee_participant_id, m.organization_participant_id] for m in meetings
    )
    return {
        "meetings": len(meetings),
        "minimum": event.min_meeting_score,
        "under": len(under),
        "under_unasked": len(unasked),
        "under_20": sum(1 for v in values if v < 2000),
        "lowest": values[0] / 100 if values else None,
        "median": values[len(values) // 2] / 100 if values else None,
    }


async def words_only(session: AsyncSession) -> None:
    """Remove the organizations' domain codes: their domains are then read from their words."""
    from service.demo.load import demo_file
    from service.directory.schemas import OrganizationIn
    from service.directory.service import upsert_organizations
    from service.directory.taxonomy import load_taxonomy

    items = [
        OrganizationIn.model_validate(
            {**o, "domains": [], "track_record": o.get("track_record", {})}
        )
        for o in demo_file("organizations.json")
    ]
    await upsert_organizations(session, items=items, taxonomy=await load_taxonomy(session))


def _print_ranks(title: str, ranks: list[Ranks]) -> dict[str, float]:
    print(f"\n## {title}: {len(ranks)} agreed pairs")
    print(f"{'pair':<14} {'committee':<18} {'organization':<26} c→o  o→c")
    for r in ranks:
        show = lambda x: "—" if x is None else str(x)  # noqa: E731
        print(
            f"{r.label:<14} {r.committee:<18} {r.organization[:13]:<26}"
            f"{show(r.by_committee):>4} {show(r.by_organization):>4}"
        )
    c = [r.by_committee for r in ranks]
    o = [r.by_organization for r in ranks]
    either = [min(x for x in (a, b) if x) if (a or b) else None for a, b in zip(c, o, strict=True)]
    figures = {
        "hits3_c": _hits(c),
        "hits3_o": _hits(o),
        "hits3_either": _hits(either),
        "mrr_c": _mrr(c),
        "mrr_o": _mrr(o),
    }
    print(
        f"hits@3: committee→organization {figures['hits3_c']:.0%}, organization→committee "
        f"{figures['hits3_o']:.0%}, either {figures['hits3_either']:.0%} (goal ≥ 90% in one "
        f"direction); MRR {figures['mrr_c']:.3f} and {figures['mrr_o']:.3f}"
    )
    return figures


def _print_schedule(figures: dict[str, Any]) -> None:
    print(
        f"schedule: {figures['meetings']} meetings, lowest score {figures['lowest']}, median "
        f"{figures['median']}; {figures['under']} under the event minimum of "
        f"{figures['minimum']:g} ({figures['under_unasked']} of them neither requested nor "
        f"must-meet; goal 0); {figures['under_20']} under 20"
    )


async def run(database_url: str, time_limit: float) -> None:
    from service.config import Settings
    from service.db import create_engine, create_sessionmaker

    engine = create_engine(Settings(database_url=database_url))
    maker = create_sessionmaker(engine)

    async def step(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with maker.begin() as session:
            return await work(session)

    coded = _print_ranks("coded profiles (the demo as shipped)", await step(pair_ranks))
    _print_schedule(await step(lambda s: schedule_figures(s, time_limit=time_limit)))
    await step(words_only)
    words = _print_ranks("organizations' domains read from their words", await step(pair_ranks))
    _print_schedule(await step(lambda s: schedule_figures(s, time_limit=time_limit)))
    gap = coded["hits3_either"] - words["hits3_either"]
    best = max(coded["hits3_c"], coded["hits3_o"]) - max(words["hits3_c"], words["hits3_o"])
    print(
        f"\nwords-only against coded: hits@3 (either direction) {gap * 100:+.0f} points lower, "
        f"best single direction {best * 100:+.0f} points lower (goal within 10)"
    )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smk-quality-") as directory:
        url = f"sqlite+aiosqlite:///{directory}/quality.db"
        env = {**os.environ, "DATABASE_URL": url}
        for command in (["migrate"], ["load-demo"]):
            subprocess.run(
                [sys.executable, "-m", "service", *command],
                env=env,
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        os.environ["DATABASE_URL"] = url
        asyncio.run(run(url, args.time_limit))


if __name__ == "__main__":
    main()
