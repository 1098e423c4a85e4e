"""The score of one committee–organization pair and its explanation, written the obvious way.

This is the definition the fast index in `service.scoring.index` must reproduce exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.scoring.taxonomy import Profile, Relation, Taxonomy
from service.scoring.text import similarity
from service.scoring.weights import ScoringWeights


@dataclass(frozen=True, slots=True)
class Contribution:
    """One line of an explanation: a domain pair (or the text signal) and its share of the score.

    For Relation.TEXT both domain codes are None.
    """

    committee_domain: str | None
    organization_domain: str | None
    relation: Relation
    share_hundredths: int
    # What the pair of domains earns in thousandths: 1000 × `exact` for the same domain, less
    # the broader their common ancestor (`Taxonomy.coefficient`); the text overlap for TEXT.
    credit: int = 0
    committee_inferred: bool = False
    organization_inferred: bool = False

    @property
    def share(self) -> float:
        """The share in points, two decimals."""
        return self.share_hundredths / 100


@dataclass(frozen=True, slots=True)
class Explanation:
    """A pair's score with contributions whose shares add up exactly to it, largest first."""

    committee_id: str
    organization_id: str
    score_hundredths: int
    text_similarity: int
    contributions: tuple[Contribution, ...]
    # The words of the two texts that earned the text signal, sorted.
    shared_words: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        """The score in points from 0 to 100, two decimals."""
        return self.score_hundredths / 100


def combine(*, a: int, b: int, wc: int, wo: int, sim: int, text: float) -> tuple[float, float]:
    """The domain part and the text bonus, in hundredths of a point, before rounding.

    `a` is the committee's weight covered by the organization, `b` the reverse, `wc` and `wo`
    their total weights, all in thousandths squared or thousandths; `sim` is in thousandths.
    The fast index repeats these exact operations in this order, so both round alike.
    """
    den = a * wo + b * wc
    # 10000 * F1 of the two coverages (a / 1000wc, b / 1000wo) = 20ab / (a wo + b wc)
    domain = 0.0 if den == 0 else (20.0 * float(a * b)) / float(den)
    k = (text * float(sim)) / 1000.0
    bonus = ((k * domain) * (10000.0 - domain)) / 10000.0
    return domain, bonus


def to_hundredths(*, value: float) -> int:
    """Round half up to an integer number of hundredths, capped at 100 points."""
    return math.floor(min(value, 10000.0) + 0.5)


def _best(
    *, code: str, others: dict[str, int], taxonomy: Taxonomy, weights: ScoringWeights, mine: str
) -> tuple[str, int]:
    """The best related counterpart domain and its coefficient.

    Among equally related domains the heaviest, then the smallest code, gets the credit in an
    explanation; the score does not depend on which.
    """
    best_code, best, best_weight = "", 0, 0
    for other in sorted(others):
        pair = (code, other) if mine == "committee" else (other, code)
        c = taxonomy.coefficient(a=pair[0], b=pair[1], weights=weights)
        if c > best or (c == best and c > 0 and others[other] > best_weight):
            best_code, best, best_weight = other, c, others[other]
    return best_code, best


def _check(*, profile: Profile, taxonomy: Taxonomy) -> None:
    """Refuse domains the taxonomy does not know, rather than scoring them as unrelated."""
    unknown = sorted(set(profile.domains) - set(taxonomy.parents))
    if unknown:
        raise ValueError(f"profile {profile.id} has unknown domains {unknown}")


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a pair's score is made of, before rounding."""

    covered_c: dict[str, tuple[str, int]]
    covered_o: dict[str, tuple[str, int]]
    sim: int
    domain: float
    bonus: float


def _parts(
    *, taxonomy: Taxonomy, weights: ScoringWeights, committee: Profile, organization: Profile
) -> _Parts:
    """Each domain's best counterpart domain, the coverages, and the two parts of the score."""
    _check(profile=committee, taxonomy=taxonomy)
    _check(profile=organization, taxonomy=taxonomy)
    wc, wo = committee.quantized(), organization.quantized()
    covered_c: dict[str, tuple[str, int]] = {}
    for i, w in wc.items():
        j, c = _best(code=i, others=wo, taxonomy=taxonomy, weights=weights, mine="committee")
        if c:
            covered_c[i] = (j, w * c)
    covered_o: dict[str, tuple[str, int]] = {}
    for j, w in wo.items():
        i, c = _best(code=j, others=wc, taxonomy=taxonomy, weights=weights, mine="organization")
        if c:
            covered_o[j] = (i, w * c)
    sim = similarity(a=committee.tokens, b=organization.tokens)
    domain, bonus = combine(
        a=sum(v for _, v in covered_c.values()),
        b=sum(v for _, v in covered_o.values()),
        wc=sum(wc.values()),
        wo=sum(wo.values()),
        sim=sim,
        text=weights.text,
    )
    return _Parts(covered_c, covered_o, sim, domain, bonus)


def explain(
    *,
    taxonomy: Taxonomy,
    weights: ScoringWeights,
    committee: Profile,
    organization: Profile,
) -> Explanation:
    """Score a pair and break the score into the domain pairs (and text) that earned it."""
    p = _parts(taxonomy=taxonomy, weights=weights, committee=committee, organization=organization)
    total = to_hundredths(value=p.domain + p.bonus)
    a = sum(v for _, v in p.covered_c.values())
    b = sum(v for _, v in p.covered_o.values())
    # F1 = PR/(P+R) + PR/(P+R): each side's coverage earns half the domain part, split over
    # its domains in proportion to what each covers.
    shares: dict[tuple[str, str], float] = {}
    for i, (j, v) in p.covered_c.items():
        shares[i, j] = shares.get((i, j), 0.0) + p.domain / 2 * v / a
    for j, (i, v) in p.covered_o.items():
        shares[i, j] = shares.get((i, j), 0.0) + p.domain / 2 * v / b
    keys: list[tuple[str, str] | None] = [*sorted(shares), *([None] if p.bonus > 0 else [])]
    values = [shares[k] if k is not None else p.bonus for k in keys]
    lines = []
    for k, r in zip(keys, largest_remainder(values=values, total=total), strict=True):
        if k is None:
            lines.append(Contribution(None, None, Relation.TEXT, r, p.sim))
        else:
            relation = taxonomy.relation(a=k[0], b=k[1])
            assert relation is not None
            credit = taxonomy.coefficient(a=k[0], b=k[1], weights=weights)
            lines.append(
                Contribution(
                    k[0],
                    k[1],
                    relation,
                    r,
                    credit,
                    k[0] in committee.inferred,
                    k[1] in organization.inferred,
                )
            )
    # Text last among equal shares: the domain pairs are the reasons clients read first.
    lines.sort(
        key=lambda x: (
            -x.share_hundredths,
            x.committee_domain is None,
            x.committee_domain or "",
            x.organization_domain or "",
        )
    )
    shared = tuple(sorted(committee.tokens & organization.tokens)) if p.bonus > 0 else ()
    return Explanation(committee.id, organization.id, total, p.sim, tuple(lines), shared)


def score_pair(
    *,
    taxonomy: Taxonomy,
    weights: ScoringWeights,
    committee: Profile,
    organization: Profile,
) -> int:
    """The pair's score in hundredths of a point, 0 to 10000."""
    p = _parts(taxonomy=taxonomy, weights=weights, committee=committee, organization=organization)
    return to_hundredths(value=p.domain + p.bonus)


def largest_remainder(*, values: list[float], total: int) -> list[int]:
    """Round values (in hundredths) to integers that add up to `total`, largest remainders first."""
    floors = [math.floor(v) for v in values]
    order = sorted(range(len(values)), key=lambda n: (floors[n] - values[n], n))
    missing = total - sum(floors)
    # Float error can leave `missing` one off the number of values; cycle rather than fail.
    while missing > 0 and order:
        for n in order[:missing]:
            floors[n] += 1
        missing = total - sum(floors)
    while missing < 0:
        for n in reversed(order):
            if floors[n] > 0 and missing < 0:
                floors[n] -= 1
                missing += 1
    return floors
