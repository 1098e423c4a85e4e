"""The matching service against the scoring engine's reference, its weights, its determinism."""

import asyncio
import json
import os
import re
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from service.config import Settings
from service.db import create_sessionmaker
from service.directory.taxonomy import Taxonomy, load_taxonomy
from service.matching import service
from service.models import Committee, Organization
from service.scoring.reference import Explanation, explain
from service.scoring.taxonomy import Profile
from service.scoring.taxonomy import Taxonomy as ScoringTaxonomy
from service.scoring.text import text_tokens
from service.scoring.weights import ScoringWeights

WEIGHTS = ScoringWeights()


async def snapshot(session: AsyncSession, weights: ScoringWeights) -> list[Any]:
    """Every party's full recommendation list, explanations included, as plain data."""
    out: list[Any] = []
    committees = (await session.scalars(select(Committee.id).order_by(Committee.id))).all()
    organizations = (await session.scalars(select(Organization.id).order_by(Organization.id))).all()
    forest = await load_taxonomy(session)
    rankings = [
        await recommend(session, party_id=c, side="committee", weights=weights, forest=forest)
        for c in committees
    ] + [
        await recommend(session, party_id=o, side="organization", weights=weights, forest=forest)
        for o in organizations
    ]
    for party, ranking in zip([*committees, *organizations], rankings, strict=True):
        out.append(
            [
                str(party),
                [
                    [
                        str(s.party.id),
                        s.score_hundredths,
                        [
                            [
                                c.committee_domain,
                                c.organization_domain,
                                c.relation.value,
                                c.share_hundredths,
                            ]
                            for c in s.explanation.contributions
                        ],
                    ]
                    for s in ranking.items
                ],
            ]
        )
    return out


async def recommend(
    session: AsyncSession,
    *,
    party_id: uuid.UUID,
    side: service.Side,
    weights: ScoringWeights = WEIGHTS,
    forest: Taxonomy | None = None,
) -> service.Ranking[Any]:
    """Every counterpart of one party, as the service ranks them."""
    return await service.recommend(
        session,
        party_id=party_id,
        side=side,
        weights=weights,
        forest=forest or await load_taxonomy(session),
        limit=100,
        min_score=0,
        domain=None,
    )


async def _reference_profiles(
    session: AsyncSession,
) -> tuple[ScoringTaxonomy, list[Profile], list[Profile]]:
    """Both sides built the obvious way, from whole rows, independently of the service's query.

    The taxonomy counts the directory's domain links itself, the way docs/matching.md says.
    """
    forest = await load_taxonomy(session)
    committees = (
        await session.scalars(select(Committee).options(selectinload(Committee.domains)))
    ).all()
    organizations = (
        await session.scalars(select(Organization).options(selectinload(Organization.domains)))
    ).all()
    counts = Counter(
        forest.code_of(d.domain_id) for row in [*committees, *organizations] for d in row.domains
    )

    def profile(row: Committee | Organization, text: str) -> Profile:
        links = {forest.code_of(d.domain_id): d.weight for d in row.domains}
        inferred = frozenset(forest.code_of(d.domain_id) for d in row.domains if d.inferred)
        return Profile(str(row.id), links, text_tokens(text=text), inferred)

    return (
        ScoringTaxonomy(parents=forest.parents, counts=counts),
        [profile(c, c.scope) for c in committees],
        [profile(o, "\n".join(filter(None, (o.needs, o.business_scope)))) for o in organizations],
    )


def _ranked(explained: list[tuple[str, Explanation]]) -> list[tuple[str, int, Any]]:
    """The reference's answer: scores above 0, best first, ties by id."""
    kept = sorted(
        ((i, e) for i, e in explained if e.score_hundredths > 0),
        key=lambda ie: (-ie[1].score_hundredths, ie[0]),
    )
    return [(i, e.score_hundredths, e.contributions) for i, e in kept]


def _got(ranking: service.Ranking[Any]) -> list[tuple[str, int, Any]]:
    return [
        (str(s.party.id), s.score_hundredths, s.explanation.contributions) for s in ranking.items
    ]


async def test_recommendations_equal_the_reference_for_every_party(session: AsyncSession) -> None:
    taxonomy, committees, organizations = await _reference_profiles(session)
    assert (len(committees), len(organizations)) == (22, 35)

    def pair(c: Profile, o: Profile) -> Explanation:
        return explain(taxonomy=taxonomy, weights=WEIGHTS, committee=c, organization=o)

    for c in committees:
        ranking = await recommend(session, party_id=uuid.UUID(c.id), side="committee")
        assert _got(ranking) == _ranked([(o.id, pair(c, o)) for o in organizations])
    for o in organizations:
        committee_ranking = await recommend(session, party_id=uuid.UUID(o.id), side="organization")
        assert _got(committee_ranking) == _ranked([(c.id, pair(c, o)) for c in committees])


async def test_explanations_add_up_to_the_score_for_every_pair(session: AsyncSession) -> None:
    taxonomy, committees, organizations = await _reference_profiles(session)
    scored = 0
    for c in committees:
        for o in organizations:
            e = explain(taxonomy=taxonomy, weights=WEIGHTS, committee=c, organization=o)
            assert sum(x.share_hundredths for x in e.contributions) == e.score_hundredths
            scored += e.score_hundredths > 0
    assert scored > 100
    for c in committees:
        ranking = await recommend(session, party_id=uuid.UUID(c.id), side="committee")
        for s in ranking.items:
            assert (
                sum(x.share_hundredths for x in s.explanation.contributions) == s.score_hundredths
            )
            assert s.explanation.score_hundredths == s.score_hundredths


# Run in a fresh interpreter with another hash seed: set and dict orders of strings differ there.
CHILD = """
import asyncio, json, sys
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from tests.matching.test_service import snapshot

async def main() -> None:
    settings = Settings(database_url=sys.argv[1])
    engine = create_engine(settings)
    async with create_sessionmaker(engine).begin() as session:
        print(json.dumps(await snapshot(session, settings.scoring_weights())))
    await engine.dispose()

asyncio.run(main())
"""


async def test_another_process_computes_the_same_answers(
    engine: AsyncEngine, settings: Settings
) -> None:
    # The test's own short transaction ends before the child starts: SQLite would make the
    # child wait for it.
    async with create_sessionmaker(engine).begin() as session:
        ours = await snapshot(session, WEIGHTS)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        settings.database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "20260923"},
        cwd=Path(__file__).parents[2],
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout=120)
    assert child.returncode == 0, stderr.decode()
    theirs = json.loads(stdout)
    assert theirs == json.loads(json.dumps(ours))
    assert sum(len(items) for _, items in ours) > 200


def test_settings_fill_the_scoring_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().scoring_weights() == ScoringWeights()
    monkeypatch.setenv("MATCH_WEIGHT_EXACT", "0.9")
    monkeypatch.setenv("MATCH_WEIGHT_TEXT", "0")
    assert Settings().scoring_weights() == ScoringWeights(exact=0.9, text=0.0)


def test_the_docs_name_every_setting_with_its_default() -> None:
    text = (Path(__file__).parents[2] / "docs" / "matching.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(match_weight_\w+)` \| ([0-9.]+) \| `(\w+)` \|$", text, re.M)
    defaults = {
        name: field.default
        for name, field in Settings.model_fields.items()
        if name.startswith("match_weight_")
    }
    assert {name: float(default) for name, default, _ in rows} == defaults
    assert all(name == f"match_weight_{field}" for name, _, field in rows)
    assert {field for _, _, field in rows} == set(ScoringWeights.__dataclass_fields__)


@pytest.mark.parametrize(
    "values",
    [
        {"match_weight_text": 1.5},
        {"match_weight_text": -0.1},
        {"match_weight_exact": 0.0},
        {"match_weight_exact": 1.5},
    ],
)
def test_bad_weights_stop_the_service_at_start(values: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)  # type: ignore[arg-type]
