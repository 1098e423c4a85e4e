"""Top-k matching with numpy: one party against many, or every party of one side in bulk.

Gives exactly the scores of `service.scoring.reference`: the coverages are sums of integers
(thousandths of weight times thousandths of relation), exact in float64 whatever order they
are added in, and the final combination repeats `combine` operation by operation.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.scoring.taxonomy import Profile, Taxonomy
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


@functools.lru_cache(maxsize=8)
def _relations(
    *,
    parents: tuple[tuple[str, str | None], ...],
    counts: tuple[tuple[str, int], ...],
    weights: ScoringWeights,
) -> Floats:
    """Coefficient of every pair of domains in thousandths, rows and columns in code order."""
    taxonomy = Taxonomy(parents=dict(parents), counts=dict(counts))
    codes = taxonomy.codes
    out = np.array(
        [[taxonomy.coefficient(a=a, b=b, weights=weights) for b in codes] for a in codes],
        dtype=np.float64,
    )
    out.flags.writeable = False
    return out.reshape(len(codes), len(codes))


class ProfileMatrix:
    """One side of the directory (all committees, or all organizations) as dense matrices.

    Rows follow the order of `profiles`; columns follow `taxonomy.codes`. Weights and
    coefficients are integers (thousandths) held in float64, exact below 2**53.
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
        self.relations = _relations(
            parents=tuple(sorted(taxonomy.parents.items(), key=lambda kv: kv[0])),
            counts=tuple(sorted(taxonomy.counts.items())),
            weights=weights,
        )
        n = len(self.profiles)
        self.weight: Floats = np.zeros((n, len(codes)), dtype=np.float64)
        for row, p in enumerate(self.profiles):
            try:
                for code, w in p.quantized().items():
                    self.weight[row, column[code]] = w
            except KeyError as e:
                raise ValueError(f"profile {p.id} has unknown domain {e.args[0]}") from None
        self.total: Floats = self.weight.sum(axis=1)
        # cover[n, k]: how well party n covers domain k, the best relation of k to its domains.
        self.cover: Floats = np.zeros_like(self.weight)
        if n < len(codes):
            for row in range(n):
                cols = np.flatnonzero(self.weight[row])
                if len(cols):
                    self.cover[row] = self.relations[cols].max(axis=0)
        else:
            for k in range(len(codes)):
                rows = np.flatnonzero(self.weight[:, k])
                self.cover[rows] = np.maximum(self.cover[rows], self.relations[k])
        # Ties in score go to the smallest id as a string, the same in every process.
        order = sorted(range(n), key=lambda r: self.ids[r])
        self.rank: Ints = np.empty(n, dtype=np.int64)
        self.rank[order] = np.arange(n, dtype=np.int64)
        self.token_count: Ints = np.array([len(p.tokens) for p in self.profiles], dtype=np.int64)
        # Each party's few domains as (column, weight) slots, padded with weight 0, so products
        # with a party's domains are a handful of gathers rather than a dense matrix product.
        width = max(1, int((self.weight > 0).sum(axis=1).max(initial=0)))
        self.slot_column: Ints = np.zeros((n, width), dtype=np.int64)
        self.slot_weight: Floats = np.zeros((n, width), dtype=np.float64)
        for row in range(n):
            cols = np.flatnonzero(self.weight[row])
            self.slot_column[row, : len(cols)] = cols
            self.slot_weight[row, : len(cols)] = self.weight[row, cols]
        self.slot_count: Ints = (self.weight > 0).sum(axis=1).astype(np.int64)
        # Rows with the most domains first: then the rows using slot s are a prefix, and the
        # padding of rows with fewer domains is never multiplied.
        self.by_size: Ints = np.argsort(-self.slot_count, kind="stable").astype(np.int64)
        self.sorted_column: Ints = self.slot_column[self.by_size]
        self.sorted_weight: Floats = self.slot_weight[self.by_size]
        self.sorted_total: Floats = self.total[self.by_size]
        self.sorted_cover_t: Floats = np.ascontiguousarray(self.cover[self.by_size].T)
        self.slot_users: Ints = np.array(
            [int((self.slot_count > s).sum()) for s in range(width)], dtype=np.int64
        )

    def having(self, *, domain: str) -> npt.NDArray[np.bool_]:
        """Rows of the parties with the domain or one of its descendants."""
        cols = [self.taxonomy.codes.index(c) for c in sorted(self.taxonomy.subtree(code=domain))]
        return np.asarray(self.weight[:, cols].any(axis=1))


def _coverages(
    *, parties: ProfileMatrix, rows: Ints, among: ProfileMatrix
) -> tuple[Floats, Floats]:
    """(a, b) for the parties in `rows` (most domains first) against every party of `among`.

    Columns follow `among.by_size`. a[q, n] is how much of counterpart n's weight party q
    covers, b[q, n] how much of party q's weight counterpart n covers. They are sums of
    integers below 2**53, exact in float64 in any order, so they equal the reference's. A
    party has few domains: a few gathers beat a dense matrix product, and keep BLAS threads
    (which stall on a busy machine) out of it.
    """
    cover = parties.cover[rows]
    a = np.zeros((len(rows), len(among.ids)), dtype=np.float64)
    b = np.zeros_like(a)
    for s, users in enumerate(among.slot_users):
        tmp = np.take(cover, among.sorted_column[:users, s], axis=1)
        tmp *= among.sorted_weight[:users, s]
        a[:, :users] += tmp
    counts = parties.slot_count[rows]
    columns, weights = parties.slot_column[rows], parties.slot_weight[rows]
    for s in range(columns.shape[1]):
        users = int((counts > s).sum())
        tmp = np.take(among.sorted_cover_t, columns[:users, s], axis=0)
        tmp *= weights[:users, s, None]
        b[:users] += tmp
    return a, b


def _domain(*, a: Floats, b: Floats, wa: Floats, wb: Floats) -> Floats:
    """`reference.combine`'s domain part over arrays of exact integers, operation for operation."""
    den = a * wb
    den += b * wa
    num = a * b
    num *= 20.0
    # den is a whole number, and 0 only where num is 0 too: 0 / 1 gives the reference's 0
    # without a masked (slow) division, and every other quotient is untouched.
    np.maximum(den, 1.0, out=den)
    num /= den
    return num


def _combine(*, a: Floats, b: Floats, wa: Floats, wb: Floats, sim: Ints, text: float) -> Ints:
    """`reference.combine` then `to_hundredths` over arrays, operation for operation."""
    domain = _domain(a=a, b=b, wa=wa, wb=wb)
    k = (text * sim.astype(np.float64)) / 1000.0
    bonus = ((k * domain) * (10000.0 - domain)) / 10000.0
    return np.floor(np.minimum(domain + bonus, 10000.0) + 0.5).astype(np.int64)


def _min_hundredths(*, min_score: float) -> int:
    """The smallest score in hundredths that passes `min_score`; a score of 0 never does."""
    # The epsilon keeps 12.34 from turning into 1234.0000000000002 and rounding up to 1235.
    return max(1, math.ceil(min_score * 100 - 1e-9))


SimilarityOf = Callable[[Ints, Ints], Ints]


def _rank_block(
    *,
    parties: ProfileMatrix,
    rows: Ints,
    among: ProfileMatrix,
    allowed: npt.NDArray[np.bool_] | None,
    floor: int,
    limit: int,
    similarity_of: SimilarityOf,
) -> tuple[Ints, Ints, Ints, Ints]:
    """Top `limit` of each party in `rows` (most domains first): party, counterpart, score, rank."""
    a, b = _coverages(parties=parties, rows=rows, among=among)
    wa = among.sorted_total[None, :]
    wb = parties.total[rows][:, None]
    domain = _domain(a=a, b=b, wa=wa, wb=wb)
    if allowed is not None:
        domain[:, ~allowed[among.by_size]] = -1.0
    text = among.weights.text
    n = domain.shape[1]
    # Final scores are never below the domain part, so when the limit-th best domain part
    # surely passes `floor` it bounds each party's last place from below.
    need = np.full(domain.shape[0], floor, dtype=np.int64)
    if n > limit:
        kth = np.partition(domain, n - limit, axis=1)[:, n - limit]
        bound = np.floor(np.minimum(kth, 10000.0) + 0.5).astype(np.int64)
        need = np.where(kth >= floor, np.maximum(need, bound), need)
    # The text bonus is at most 2500 * text hundredths (at a domain part of 50 points): only
    # counterparts within that band of the bound can still reach it. One more absorbs rounding;
    # the tiny positive floor drops the unrelated, whose score is 0 whatever the text.
    band = 2500.0 * text + 1.0
    q, c = np.nonzero(domain >= np.maximum(need - band, 1e-300)[:, None])
    a, b = a[q, c], b[q, c]
    c = among.by_size[c]
    wa, wb = among.total[c], parties.total[rows][q]
    talks = (parties.token_count[rows][q] > 0) & (among.token_count[c] > 0) & (text > 0)
    high = _combine(a=a, b=b, wa=wa, wb=wb, sim=np.where(talks, 1000, 0), text=text)
    near = high >= need[q]
    q, c, a, b, wa, wb, talks = q[near], c[near], a[near], b[near], wa[near], wb[near], talks[near]
    sim = np.zeros(len(q), dtype=np.int64)
    if talks.any():
        sim[talks] = similarity_of(rows[q[talks]], c[talks])
    final = _combine(a=a, b=b, wa=wa, wb=wb, sim=sim, text=text)
    passed = final >= floor
    q, c, final = rows[q[passed]], c[passed], final[passed]
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
        rows=np.zeros(1, dtype=np.int64),
        among=among,
        allowed=None if domain is None else among.having(domain=domain),
        floor=_min_hundredths(min_score=min_score),
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
    block: int = 256,
    workers: int | None = None,
) -> TopMatches:
    """`top_matches` for every party of `parties` against `among`.

    Rows are ranked in blocks of `block` on `workers` threads (default: one per core).
    """
    if parties.taxonomy != among.taxonomy or parties.weights != among.weights:
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
    floor = _min_hundredths(min_score=min_score)

    def run(start: int) -> None:
        """Rank one block of rows into its own rows of the result."""
        q, c, final, place = _rank_block(
            parties=parties,
            rows=parties.by_size[start : start + block],
            among=among,
            allowed=None,
            floor=floor,
            limit=limit,
            similarity_of=similarity_of,
        )
        index[q, place] = c
        score[q, place] = final

    # numpy lets go of the GIL inside its loops, so threads put every core to work; blocks write
    # disjoint rows, so the result does not depend on which thread finishes first.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(run, range(0, n, block)))
    return TopMatches(parties.ids, among.ids, index, score)
