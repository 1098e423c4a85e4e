"""Properties of the score as defined by the reference implementation."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from service.scoring.reference import explain, score_pair
from service.scoring.taxonomy import Profile, Relation, Taxonomy
from service.scoring.weights import ScoringWeights
from tests.scoring.strategies import profiles, taxonomies, weight

WEIGHTS = ScoringWeights()
TREE = Taxonomy(
    parents={
        "ai": None,
        "embodied_ai": "ai",
        "machine_learning": "ai",
        "humanoid": "embodied_ai",
        "energy": None,
    }
)


def score(committee: Profile, organization: Profile, weights: ScoringWeights = WEIGHTS) -> int:
    """The score of a pair on TREE in hundredths."""
    return score_pair(
        taxonomy=TREE, weights=weights, committee=committee, organization=organization
    )


@pytest.mark.parametrize(
    ("org", "expected"),
    [
        ({"ai": 0.2}, 10000),
        # No counts: each domain covers itself once. ai covers 4 (itself, embodied_ai,
        # machine_learning, humanoid), embodied_ai 2, humanoid 1: sqrt(4 * 2) / 4 = 0.707.
        ({"embodied_ai": 1.0}, 7070),
        # sqrt(4 * 1) / 4
        ({"humanoid": 1.0}, 5000),
        ({"energy": 1.0}, 0),
        # P = 1, R = 1/2: F1 = 2/3
        ({"ai": 1.0, "energy": 1.0}, 6667),
    ],
)
def test_known_scores(org: dict[str, float], expected: int) -> None:
    assert score(Profile("c", {"ai": 0.7}), Profile("o", org)) == expected


def test_siblings_score_partly() -> None:
    # sqrt(2 * 1) / 4 = 0.354
    assert score(Profile("c", {"embodied_ai": 1}), Profile("o", {"machine_learning": 1})) == 3540


# A directory where the industry root covers most profiles (textiles are everywhere) and
# robotics covers hardly more than its one child.
BROAD = Taxonomy(
    parents={
        "industry": None,
        "pets": "industry",
        "steel": "industry",
        "textiles": "industry",
        "robotics": "industry",
        "humanoid": "robotics",
    },
    counts={"pets": 3, "steel": 4, "textiles": 80, "humanoid": 10},
)


def test_a_broad_ancestor_is_worth_nearly_nothing() -> None:
    # covered: pets 4, steel 5, industry 3 + 4 + 80 + 10 + 6 = 103: sqrt(4 * 5) / 103 = 0.043
    assert BROAD.specificity(a="pets", b="steel") < 0.05
    pets, steel = Profile("c", {"pets": 1.0}), Profile("o", {"steel": 1.0})
    assert score_pair(taxonomy=BROAD, weights=WEIGHTS, committee=pets, organization=steel) == 430


def test_a_narrow_ancestor_is_worth_nearly_the_domain() -> None:
    # covered: humanoid 11, robotics 12: sqrt(11 * 12) / 12 = 0.957
    assert BROAD.specificity(a="humanoid", b="robotics") > 0.95
    robots, humanoid = Profile("c", {"robotics": 1.0}), Profile("o", {"humanoid": 1.0})
    assert score_pair(taxonomy=BROAD, weights=WEIGHTS, committee=robots, organization=humanoid) == (
        9570
    )


def test_credit_follows_the_directory() -> None:
    """The same pair earns less once its common parent covers more of the directory."""
    pets, steel = Profile("c", {"pets": 1.0}), Profile("o", {"steel": 1.0})
    few = Taxonomy(parents=BROAD.parents, counts={"pets": 3, "steel": 4})
    assert score_pair(taxonomy=few, weights=WEIGHTS, committee=pets, organization=steel) > 430
    with pytest.raises(ValueError, match="unknown domains"):
        Taxonomy(parents=BROAD.parents, counts={"cats": 1})


def test_listing_everything_scores_low() -> None:
    shotgun = Profile("o", dict.fromkeys(TREE.codes, 1.0))
    assert score(Profile("c", {"energy": 1.0}), shotgun) < 5000


def test_explanation_names_pairs_and_relations() -> None:
    e = explain(
        taxonomy=TREE,
        weights=WEIGHTS,
        committee=Profile("c", {"ai": 1.0, "energy": 0.5}),
        organization=Profile("o", {"embodied_ai": 1.0, "energy": 1.0}),
    )
    assert [(x.committee_domain, x.organization_domain, x.relation) for x in e.contributions] == [
        ("ai", "embodied_ai", Relation.PARENT_CHILD),
        ("energy", "energy", Relation.EXACT),
    ]
    assert sum(x.share_hundredths for x in e.contributions) == e.score_hundredths


def test_text_refines_but_never_outweighs() -> None:
    c = Profile("c", {"ai": 1.0}, frozenset({"机器人", "安全"}))
    o = Profile("o", {"ai": 1.0, "energy": 1.0}, frozenset({"机器人", "安全"}))
    plain = score(c, o, ScoringWeights(text=0.0))
    assert score(c, o) > plain
    assert score(c, o) - plain <= 0.1 * min(plain, 10000 - plain) + 1
    e = explain(taxonomy=TREE, weights=WEIGHTS, committee=c, organization=o)
    assert e.contributions[-1].relation is Relation.TEXT


def test_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ScoringWeights(exact=0.0)
    with pytest.raises(ValueError, match="outside"):
        ScoringWeights(text=1.5)
    with pytest.raises(ValueError, match="outside"):
        Profile("o", {"ai": 0.0})


@given(st.data())
def test_scores_stay_in_range_and_shares_add_up(data: st.DataObject) -> None:
    t = data.draw(taxonomies())
    c, o = data.draw(profiles(t, "c")), data.draw(profiles(t, "o"))
    e = explain(taxonomy=t, weights=WEIGHTS, committee=c, organization=o)
    assert 0 <= e.score_hundredths <= 10000
    assert sum(x.share_hundredths for x in e.contributions) == e.score_hundredths
    assert all(x.share_hundredths >= 0 for x in e.contributions)
    assert e.score_hundredths == score_pair(
        taxonomy=t, weights=WEIGHTS, committee=c, organization=o
    )


@given(st.data(), weight, weight)
def test_adding_a_shared_domain_never_lowers_a_score(
    data: st.DataObject, wc: float, wo: float
) -> None:
    """Adding a domain d to both sides, or to the one side that lacks it, with any weights."""
    t = data.draw(taxonomies())
    c, o = data.draw(profiles(t, "c")), data.draw(profiles(t, "o"))
    d = data.draw(st.sampled_from(t.codes))
    assume(d not in c.domains or d not in o.domains)
    c2 = Profile(c.id, {**c.domains, d: c.domains.get(d, wc)}, c.tokens)
    o2 = Profile(o.id, {**o.domains, d: o.domains.get(d, wo)}, o.tokens)
    before = score_pair(taxonomy=t, weights=WEIGHTS, committee=c, organization=o)
    after = score_pair(taxonomy=t, weights=WEIGHTS, committee=c2, organization=o2)
    assert after >= before


@given(st.data(), weight)
def test_adding_an_unrelated_domain_never_raises_a_score(data: st.DataObject, w: float) -> None:
    """Listing more domains does not inflate: one unrelated to the counterpart only dilutes."""
    t = data.draw(taxonomies())
    c, o = data.draw(profiles(t, "c")), data.draw(profiles(t, "o"))
    unrelated = [
        d
        for d in t.codes
        if d not in o.domains and all(t.relation(a=d, b=x) is None for x in c.domains)
    ]
    assume(unrelated)
    d = data.draw(st.sampled_from(unrelated))
    o2 = Profile(o.id, {**o.domains, d: w}, o.tokens)
    before = score_pair(taxonomy=t, weights=WEIGHTS, committee=c, organization=o)
    assert score_pair(taxonomy=t, weights=WEIGHTS, committee=c, organization=o2) <= before


@given(st.data())
def test_disjoint_unrelated_domains_score_zero(data: st.DataObject) -> None:
    t = data.draw(taxonomies(min_size=2))
    roots = [c for c in t.codes if t.parents[c] is None]
    assume(len(roots) >= 2)
    first, second = t.subtree(code=roots[0]), t.subtree(code=roots[1])
    c = data.draw(profiles(Taxonomy(parents={k: t.parents[k] for k in first}), "c"))
    o = data.draw(profiles(Taxonomy(parents={k: t.parents[k] for k in second}), "o"))
    assert score_pair(taxonomy=t, weights=WEIGHTS, committee=c, organization=o) == 0


@given(st.data(), weight, weight)
def test_one_exact_domain_each_scores_100(data: st.DataObject, wc: float, wo: float) -> None:
    t = data.draw(taxonomies())
    d = data.draw(st.sampled_from(t.codes))
    c, o = Profile("c", {d: wc}), Profile("o", {d: wo})
    assert score_pair(taxonomy=t, weights=WEIGHTS, committee=c, organization=o) == 10000
