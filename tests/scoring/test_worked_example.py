"""The worked example of docs/matching.md, from the Wenzhou demo data, number for number."""

from __future__ import annotations

from service.scoring.index import ProfileMatrix, top_matches
from service.scoring.reference import explain
from service.scoring.taxonomy import Profile, Relation, Taxonomy
from service.scoring.text import text_tokens
from service.scoring.weights import ScoringWeights

TAXONOMY = Taxonomy(
    parents={
        "future_industries": None,
        "traditional_industry_upgrading": None,
        "artificial_intelligence": "future_industries",
        "robotics": "future_industries",
        "embodied_ai": "artificial_intelligence",
        "intelligent_manufacturing": "traditional_industry_upgrading",
    }
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


def test_worked_example() -> None:
    e = explain(
        taxonomy=TAXONOMY, weights=ScoringWeights(), committee=COMMITTEE, organization=ORGANIZATION
    )
    assert COMMITTEE.tokens & ORGANIZATION.tokens == {"工业", "服务"}
    assert (len(COMMITTEE.tokens), len(ORGANIZATION.tokens)) == (14, 12)
    assert e.text_similarity == 153
    assert e.score == 58.78
    assert [
        (x.committee_domain, x.organization_domain, x.relation, x.share) for x in e.contributions
    ] == [
        ("embodied_ai", "embodied_ai", Relation.EXACT, 35.84),
        ("embodied_ai", "artificial_intelligence", Relation.PARENT_CHILD, 14.60),
        ("robotics", "artificial_intelligence", Relation.SIBLING, 7.97),
        (None, None, Relation.TEXT, 0.37),
    ]
    without_text = explain(
        taxonomy=TAXONOMY,
        weights=ScoringWeights(text=0.0),
        committee=COMMITTEE,
        organization=ORGANIZATION,
    )
    assert without_text.score == 58.41


def test_worked_example_through_the_index() -> None:
    among = ProfileMatrix(taxonomy=TAXONOMY, weights=ScoringWeights(), profiles=[COMMITTEE])
    [match] = top_matches(party=ORGANIZATION, among=among)
    assert (match.counterpart_id, match.score) == ("ISO/TC 299", 58.78)
