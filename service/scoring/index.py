"""Top-k matching with numpy: one party against many, or every party of one side in bulk.

Gives exactly the scores of `service.scoring.reference`: the coverages are sums of integers
(thousandths of weight times thousandths of relation), exact in float64 whatever order BLAS
adds them in, and the final combination repeats `combine` operation by operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.scoring.taxonomy import Profile, Taxonomy, coefficient
from service.scoring.text import similarity
from service.scoring.weights import ScoringWeights

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Match:
    """One counterpart and its score in hundredths of a point."""

    counterpart_id: str
    score_hundredths: int

    @property
    def score(self) -> float:
        """The score in points from 0 to 100, two decimals."""
        return self.score_hundredths / 100


class ProfileMatrix:
    """One side of the directory (all committees, or all organizations) as dense matrices.

    Rows follow the order of `profiles`; columns follow `taxonomy.codes`.
    """

    def __init__(
        self, *, taxonomy: Taxonomy, weights: ScoringWeights, profiles: Sequence[Profile]
    ) -> None:
        codes = taxonomy.codes
        column = {c: k for k, c in enumerate(codes)}
        self.taxonomy = taxonomy
        self.weights = weights
        self.profiles = tuple(profiles)
        self.ids = tuple(p.id for p in self.profiles)
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("profile ids are not unique")
        self.relations = np.array(
            [
                [coefficient(relation=taxonomy.relation(a=a, b=b), weights=weights) for b in codes]
                for a in codes
            ],
            dtype=np.float64,
        ).reshape(len(codes), len(codes))
        n = len(self.profiles)
        self.weight: Floats = np.zeros((n, len(codes)), dtype=np.float64)
        for row, p in enumerate(self.profiles):
            try:
                for code, w in p.quantized().items():
                    self.weight[row, column[code]] = w
            except KeyError as e:
                raise ValueError(f"profile {p.id} has unknown domain {e.args[0]}") from None
        self.total: Ints = self.weight.sum(axis=1).astype(np.int64)
        # cover[n, k]: how well party n covers domain k, the best relation of k to its domains.
        self.cover: Floats = np.zeros_like(self.weight)
        for k in range(len(codes)):
            rows = np.flatnonzero(self.weight[:, k])
            self.cover[rows] = np.maximum(self.cover[rows], self.relations[k])
        # Ties in score go to the smallest id as a string, the same in every process.
        order = sorted(range(n), key=lambda r: self.ids[r])
        self.rank: Ints = np.empty(n, dtype=np.int64)
        self.rank[order] = np.arange(n, dtype=np.int64)
        self.token_count: Ints = np.array([len(p.tokens) for p in self.profiles], dtype=np.int64)

    def having(self, *, domain: str) -> npt.NDArray[np.bool_]:
        """Rows of the parties with the domain or one of its descendants."""
        cols = [self.taxonomy.codes.index(c) for c in sorted(self.taxonomy.subtree(code=domain))]
        return np.asarray(self.weight[:, cols].any(axis=1))


def _combine(*, a: Ints, b: Ints, wa: Ints, wb: Ints, sim: Ints, text: float) -> Ints:
    """`reference.combine` and `to_hundredths` over arrays, operation for operation."""
    den = a * wb + b * wa
    domain = np.zeros(den.shape, dtype=np.float64)
    np.divide(20.0 * (a * b).astype(np.float64), den.astype(np.float64), out=domain, where=den != 0)
    k = (text * sim.astype(np.float64)) / 1000.0
    bonus = ((k * domain) * (10000.0 - domain)) / 10000.0
    return np.floor(np.minimum(domain + bonus, 10000.0) + 0.5).astype(np.int64)


def _min_hundredths(min_score: float) -> int:
    """The smallest score in hundredths that passes `min_score`; a score of 0 never does."""
    # The epsilon keeps 12.34 from turning into 1234.0000000000002 and rounding up to 1235.
    return max(1, math.ceil(min_score * 100 - 1e-9))


SimilarityOf = Callable[[Ints, Ints], Ints]


def _rank_block(
    *,
    parties: ProfileMatrix,
    rows: slice,
    among: ProfileMatrix,
    allowed: npt.NDArray[np.bool_] | None,
    floor: int,
    limit: int,
    similarity_of: SimilarityOf,
) -> tuple[Ints, Ints, Ints, Ints]:
    """Top `limit` of each party in `rows`: (party row in block, counterpart, score, place)."""
    # Integers below 2**53 multiplied and added in float64 stay exact in any order, so BLAS
    # gives the same coverages as the reference's loops.
    a = np.rint(parties.cover[rows] @ among.weight.T).astype(np.int64)
    b = np.rint(parties.weight[rows] @ among.cover.T).astype(np.int64)
    wa = among.total[None, :]
    wb = parties.total[rows][:, None]
    text = among.weights.text
    low = _combine(a=a, b=b, wa=wa, wb=wb, sim=np.zeros((1, 1), dtype=np.int64), text=text)
    talks = (parties.token_count[rows] > 0)[:, None] & (among.token_count > 0)[None, :]
    with_text = text > 0 and bool(talks.any())
    if with_text:
        perfect = np.where(talks, 1000, 0).astype(np.int64)
        high = _combine(a=a, b=b, wa=wa, wb=wb, sim=perfect, text=text)
    else:
        high = low
    keep = high >= floor
    if allowed is not None:
        keep &= allowed[None, :]
    n = keep.shape[1]
    if n > limit:
        # The text bonus only adds, so each party's limit-th best score without it is a floor
        # for its final top `limit`: counterparts that cannot reach it even with a perfect text
        # match drop out before any text is compared.
        kth = np.partition(np.where(keep, low, -1), n - limit, axis=1)[:, n - limit]
        keep &= high >= kth[:, None]
    q, c = np.nonzero(keep)
    if with_text:
        sim = similarity_of(q + (rows.start or 0), c)
        final = _combine(a=a[q, c], b=b[q, c], wa=among.total[c], wb=wb[q, 0], sim=sim, text=text)
    else:
        final = low[q, c]
    passed = final >= floor
    q, c, final = q[passed], c[passed], final[passed]
    order = np.lexsort((among.rank[c], -final, q))
    q, c, final = q[order], c[order], final[order]
    place = np.arange(len(q)) - np.searchsorted(q, q)
    best = place < limit
    return q[best], c[best], final[best], place[best]


def top_matches(
    *,
    party: Profile,
    among: ProfileMatrix,
    limit: int = 10,
    min_score: float = 0.0,
    domain: str | None = None,
) -> list[Match]:
    """The best `limit` counterparts of `party` in `among`, best first, ties by id.

    `party` is a committee when `among` holds organizations and the other way round; the score
    is symmetric so either works. Only counterparts scoring above 0 and at least `min_score`,
    and having `domain` or a descendant of it when given, are returned.
    """
    if limit <= 0 or not among.ids:
        return []
    single = ProfileMatrix(taxonomy=among.taxonomy, weights=among.weights, profiles=[party])

    def similarity_of(q: Ints, c: Ints) -> Ints:
        """Plain set overlaps: a single party has few candidates."""
        return np.array(
            [similarity(a=party.tokens, b=among.profiles[r].tokens) for r in c], dtype=np.int64
        )

    _, c, final, _ = _rank_block(
        parties=single,
        rows=slice(0, 1),
        among=among,
        allowed=None if domain is None else among.having(domain=domain),
        floor=_min_hundredths(min_score),
        limit=limit,
        similarity_of=similarity_of,
    )
    return [Match(among.ids[r], int(s)) for r, s in zip(c, final, strict=True)]


@dataclass(frozen=True, slots=True)
class TopMatches:
    """The best counterparts of every party of one side.

    Row q of `index` and `score` holds party q's counterparts (rows of the other side, best
    first, -1 past the last) and their scores in hundredths.
    """

    party_ids: tuple[str, ...]
    counterpart_ids: tuple[str, ...]
    index: Ints
    score: Ints

    def matches(self, *, row: int) -> list[Match]:
        """Party `row`'s best counterparts as Match values."""
        return [
            Match(self.counterpart_ids[c], int(s))
            for c, s in zip(self.index[row], self.score[row], strict=True)
            if c >= 0
        ]


def _token_overlap(*, parties: ProfileMatrix, among: ProfileMatrix) -> SimilarityOf:
    """Dice overlaps for many (party, counterpart) pairs at once, through sorted token keys."""
    vocabulary: dict[str, int] = {}
    for p in among.profiles:
        for t in sorted(p.tokens):
            vocabulary.setdefault(t, len(vocabulary))
    width = len(vocabulary) + 1
    keys = np.sort(
        np.array(
            [r * width + vocabulary[t] for r, p in enumerate(among.profiles) for t in p.tokens],
            dtype=np.int64,
        )
    )
    known = [[vocabulary[t] for t in p.tokens if t in vocabulary] for p in parties.profiles]
    known_count = np.array([len(k) for k in known], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(known_count)])
    flat = np.array([t for k in known for t in k], dtype=np.int64)

    def similarity_of(q: Ints, c: Ints) -> Ints:
        """Shared token counts by binary search, then `text.similarity` over arrays."""
        lengths = known_count[q]
        shared = np.zeros(len(q), dtype=np.int64)
        if len(keys) and lengths.sum():
            pair = np.repeat(np.arange(len(q)), lengths)
            # Positions of each pair's party tokens inside `flat`.
            offset = np.arange(len(pair)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            wanted = c[pair] * width + flat[starts[q][pair] + offset]
            at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
            shared = np.bincount(pair, weights=keys[at] == wanted, minlength=len(q))
            shared = shared.astype(np.int64)
        size = parties.token_count[q] + among.token_count[c]
        out = np.zeros(len(q), dtype=np.int64)
        np.floor_divide(2000 * shared, size, out=out, where=(size > 0) & (shared > 0))
        return out

    return similarity_of


def top_matches_all(
    *,
    parties: ProfileMatrix,
    among: ProfileMatrix,
    limit: int = 10,
    min_score: float = 0.0,
    block: int = 2048,
) -> TopMatches:
    """`top_matches` for every party of `parties` against `among`, in blocks of rows."""
    if parties.taxonomy.codes != among.taxonomy.codes or parties.weights != among.weights:
        raise ValueError("both sides must be built with the same taxonomy and weights")
    n = len(parties.ids)
    index = np.full((n, max(limit, 0)), -1, dtype=np.int64)
    score = np.zeros((n, max(limit, 0)), dtype=np.int64)
    if limit <= 0 or not among.ids:
        return TopMatches(parties.ids, among.ids, index, score)
    similarity_of = (
        _token_overlap(parties=parties, among=among)
        if among.weights.text > 0
        else lambda q, c: np.zeros(len(q), dtype=np.int64)
    )
    for start in range(0, n, block):
        q, c, final, place = _rank_block(
            parties=parties,
            rows=slice(start, min(start + block, n)),
            among=among,
            allowed=None,
            floor=_min_hundredths(min_score),
            limit=limit,
            similarity_of=similarity_of,
        )
        index[start + q, place] = c
        score[start + q, place] = final
    return TopMatches(parties.ids, among.ids, index, score)
