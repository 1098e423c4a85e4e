"""The numpy index gives exactly the reference's answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.scoring.index import Match, ProfileMatrix, top_matches, top_matches_all
from service.scoring.reference import score_pair
from service.scoring.taxonomy import Profile, Taxonomy
from service.scoring.weights import ScoringWeights
from tests.scoring.strategies import profiles, taxonomies


def reference_top(
    *,
    taxonomy: Taxonomy,
    weights: ScoringWeights,
    party: Profile,
    among: list[Profile],
    party_is_committee: bool,
    limit: int,
    min_hundredths: int,
    domain: str | None,
) -> list[Match]:
    """Every pair scored one by one, filtered and sorted the obvious way."""
    found = []
    for other in among:
        if domain is not None and not set(other.domains) & taxonomy.subtree(code=domain):
            continue
        c, o = (party, other) if party_is_committee else (other, party)
        s = score_pair(taxonomy=taxonomy, weights=weights, committee=c, organization=o)
        if s > 0 and s >= min_hundredths:
            found.append(Match(other.id, s))
    found.sort(key=lambda m: (-m.score_hundredths, m.counterpart_id))
    return found[:limit]


directories = st.data()
text_weights = st.sampled_from([0.0, 0.1, 0.5, 1.0])


@settings(max_examples=60, deadline=None)
@given(directories, text_weights, st.integers(0, 6), st.sampled_from([0, 0.01, 25, 50.5]))
def test_fast_path_equals_reference(
    data: st.DataObject, text: float, limit: int, min_score: float
) -> None:
    t = data.draw(taxonomies())
    w = ScoringWeights(text=text)
    nc, no = data.draw(st.integers(0, 8)), data.draw(st.integers(0, 8))
    # Ids in an order unlike their string order, to exercise the tie-break.
    committees = [data.draw(profiles(t, f"c{(k * 7) % 11}")) for k in range(nc)]
    organizations = [data.draw(profiles(t, f"o{(k * 5) % 13}")) for k in range(no)]
    cm = ProfileMatrix(taxonomy=t, weights=w, profiles=committees)
    om = ProfileMatrix(taxonomy=t, weights=w, profiles=organizations)
    domain = data.draw(st.none() | st.sampled_from(t.codes))
    floor = max(1, round(min_score * 100))
    for o in organizations:
        expected = reference_top(
            taxonomy=t,
            weights=w,
            party=o,
            among=committees,
            party_is_committee=False,
            limit=limit,
            min_hundredths=floor,
            domain=domain,
        )
        got = top_matches(party=o, among=cm, limit=limit, min_score=min_score, domain=domain)
        assert got == expected
    for c in committees:
        expected = reference_top(
            taxonomy=t,
            weights=w,
            party=c,
            among=organizations,
            party_is_committee=True,
            limit=limit,
            min_hundredths=floor,
            domain=domain,
        )
        got = top_matches(party=c, among=om, limit=limit, min_score=min_score, domain=domain)
        assert got == expected
    every = top_matches_all(parties=om, among=cm, limit=limit, min_score=min_score, block=3)
    for row, o in enumerate(organizations):
        assert every.matches(row=row) == top_matches(
            party=o, among=cm, limit=limit, min_score=min_score
        )


def test_ties_break_by_id() -> None:
    t = Taxonomy(parents={"ai": None})
    w = ScoringWeights()
    committees = [Profile(i, {"ai": 1.0}) for i in ("b", "c", "a")]
    cm = ProfileMatrix(taxonomy=t, weights=w, profiles=committees)
    got = top_matches(party=Profile("o", {"ai": 0.5}), among=cm, limit=2)
    assert got == [Match("a", 10000), Match("b", 10000)]
