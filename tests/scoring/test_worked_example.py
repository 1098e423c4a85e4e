"""The worked example of docs/matching.md, from the Wenzhou demo data, number for number."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from service.scoring.index import ProfileMatrix, top_matches
from service.scoring.reference import explain
from service.scoring.taxonomy import Profile, Relation, Taxonomy
from service.scoring.text import text_tokens
from service.scoring.weights import ScoringWeights

SERVICE = Path(__file__).parents[2] / "service"


def _json(path: str) -> list[dict[str, object]]:
    return list(json.loads((SERVICE / path).read_text(encoding="utf-8")))


# The shipped taxonomy, counted over the demo directory's 22 committees and 35 organizations.
TAXONOMY = Taxonomy(
    parents={str(d["code"]): d["parent"] for d in _json("directory/taxonomy.json")},  # type: ignore[misc]
    counts=Counter(
        str(link["domain"])
        for party in _json("demo/committees.json") + _json("demo/organizations.json")
        for link in party["domains"]  # type: ignore[attr-defined]
    ),
)
COMMITTEE = Profile(
    "ISO/TC 299",
    {"robotics": 1.0, "embodied_ai": 0.8, "intelligent_manufacturing": 0.5},
    text_tokens(
        text="负责工业机器人和服务机器人领域的国际标准化，涵盖术语、性能、安全和人机协作等要求。"
    ),
)
ORGANIZATION = Profile(
    "杭州西溪澜思人工智能科技有限公司",
    {"artificial_intelligence": 1.0, "embodied_ai": 0.6},
    text_tokens(text="提供工业视觉大模型服务，希望参与人工智能模型评测与可信性相关行业标准。"),
)


WEIGHTS = ScoringWeights()


def test_worked_example() -> None:
    e = explain(
        taxonomy=TAXONOMY, weights=ScoringWeights(), committee=COMMITTEE, organization=ORGANIZATION
    )
    assert COMMITTEE.tokens & ORGANIZATION.tokens == {"工业", "服务"}
    assert (len(COMMITTEE.tokens), len(ORGANIZATION.tokens)) == (14, 12)
    assert e.text_similarity == 153
    # robotics–artificial_intelligence share future_industries: sqrt(11 * 14) / 29 = 0.428;
    # embodied_ai–artificial_intelligence share artificial_intelligence: sqrt(9 * 14) / 14 = 0.802
    assert TAXONOMY.coefficient(a="robotics", b="artificial_intelligence", weights=WEIGHTS) == 428
    assert TAXONOMY.coefficient(a="embodied_ai", b="artificial_intelligence", weights=WEIGHTS) == (
        802
    )
    assert e.score == 66.69
    assert [
        (x.committee_domain, x.organization_domain, x.relation, x.share) for x in e.contributions
    ] == [
        ("embodied_ai", "embodied_ai", Relation.EXACT, 35.81),
        ("embodied_ai", "artificial_intelligence", Relation.PARENT_CHILD, 18.98),
        ("robotics", "artificial_intelligence", Relation.SIBLING, 11.56),
        (None, None, Relation.TEXT, 0.34),
    ]
    without_text = explain(
        taxonomy=TAXONOMY,
        weights=ScoringWeights(text=0.0),
        committee=COMMITTEE,
        organization=ORGANIZATION,
    )
    assert without_text.score == 66.35


def test_worked_example_through_the_index() -> None:
    among = ProfileMatrix(taxonomy=TAXONOMY, weights=ScoringWeights(), profiles=[COMMITTEE])
    [match] = top_matches(party=ORGANIZATION, among=among)
    assert (match.counterpart_id, match.score) == ("ISO/TC 299", 66.69)
