"""The domain forest, how two domains relate, and the parties scored against it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from service.scoring.weights import ScoringWeights, quantize


class Relation(StrEnum):
    """How a committee's domain relates to an organization's, or the text signal."""

    EXACT = "exact"
    PARENT_CHILD = "parent_child"
    GRANDPARENT = "grandparent"
    SIBLING = "sibling"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Domain code to parent code (None for a root); the domains form a forest.

    `counts` is how many of the directory's domain links (committees' and organizations') name
    each domain; a domain's information content comes from the share of the directory its
    subtree covers. Left empty, every domain counts once (the taxonomy's own shape).
    """

    parents: Mapping[str, str | None]
    counts: Mapping[str, int] = field(default_factory=dict)
    codes: tuple[str, ...] = field(init=False)
    _covered: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        for code, parent in self.parents.items():
            if parent is not None and parent not in self.parents:
                raise ValueError(f"domain {code} has unknown parent {parent}")
            seen = {code}
            while parent is not None:
                if parent in seen:
                    raise ValueError(f"domain {code} is in a cycle")
                seen.add(parent)
                parent = self.parents[parent]
        unknown = sorted(set(self.counts) - set(self.parents))
        if unknown:
            raise ValueError(f"counts name unknown domains {unknown}")
        if any(n < 0 for n in self.counts.values()):
            raise ValueError("counts must not be negative")
        object.__setattr__(self, "parents", dict(self.parents))
        object.__setattr__(self, "counts", {c: n for c, n in self.counts.items() if n})
        # Sorted so that matrix columns, and with them every sum, come in one order everywhere.
        object.__setattr__(self, "codes", tuple(sorted(self.parents)))
        # Each domain counts once more than the directory names it (Laplace smoothing), so a
        # domain nobody lists yet has a finite information content and a parent always covers
        # strictly more than any of its children.
        covered = dict.fromkeys(self.parents, 0)
        for code in self.parents:
            own = self.counts.get(code, 0) + 1
            node: str | None = code
            while node is not None:
                covered[node] += own
                node = self.parents[node]
        object.__setattr__(self, "_covered", covered)

    def relation(self, *, a: str, b: str) -> Relation | None:
        """The relation between two domains, or None when they are unrelated."""
        if a == b:
            return Relation.EXACT
        pa, pb = self.parents[a], self.parents[b]
        if pa == b or pb == a:
            return Relation.PARENT_CHILD
        if (pa is not None and self.parents[pa] == b) or (pb is not None and self.parents[pb] == a):
            return Relation.GRANDPARENT
        if pa is not None and pa == pb:
            return Relation.SIBLING
        return None

    def coverage(self, *, code: str) -> float:
        """The share of the directory the domain's subtree covers, in (0, 1]."""
        total = sum(self.counts.values()) + len(self.parents)
        return self._covered[code] / total

    def information_content(self, *, code: str) -> float:
        """-ln(coverage): 0 for a domain covering everything, large for a narrow one."""
        return -math.log(self.coverage(code=code))

    def specificity(self, *, a: str, b: str) -> float:
        """What sharing the pair's closest common ancestor says about it, in (0, 1].

        exp(-JC / 2), with JC = IC(a) + IC(b) - 2 IC(ancestor) the Jiang–Conrath distance:
        equal to sqrt(coverage(a) coverage(b)) / coverage(ancestor). 1 for the same domain,
        near 1 for an ancestor hardly broader than the two, near 0 for a broad one.
        """
        ancestor = self.common_ancestor(a=a, b=b)
        if ancestor is None:
            raise ValueError(f"{a} and {b} share no ancestor")
        return math.sqrt(self._covered[a] * self._covered[b]) / self._covered[ancestor]

    def common_ancestor(self, *, a: str, b: str) -> str | None:
        """The closest domain that is `a` or an ancestor of it and also `b` or one of b's."""
        lineage: set[str] = set()
        node: str | None = a
        while node is not None:
            lineage.add(node)
            node = self.parents[node]
        node = b
        while node is not None and node not in lineage:
            node = self.parents[node]
        return node

    def coefficient(self, *, a: str, b: str, weights: ScoringWeights) -> int:
        """What domain `b` earns towards covering `a`, in thousandths; 0 when unrelated.

        Only the relations of `Relation` earn anything (two domains further apart share at
        most a root); how much is `exact` times their specificity.
        """
        relation = self.relation(a=a, b=b)
        if relation is None:
            return 0
        if relation is Relation.EXACT:
            return quantize(value=weights.exact)
        return quantize(value=weights.exact * self.specificity(a=a, b=b))

    def subtree(self, *, code: str) -> frozenset[str]:
        """The domain and all its descendants."""
        if code not in self.parents:
            raise KeyError(code)
        out = {code}
        grew = True
        while grew:
            more = {c for c, p in self.parents.items() if p in out and c not in out}
            out |= more
            grew = bool(more)
        return frozenset(out)


@dataclass(frozen=True, slots=True)
class Profile:
    """One committee or organization: its domains weighted in (0, 1] and its text tokens.

    `tokens` come from `text_tokens` over the committee's scope or the organization's
    standardization needs and business scope; empty when there is no text.
    """

    id: str
    domains: Mapping[str, float]
    tokens: frozenset[str] = frozenset()
    # The domains read from the profile's words rather than chosen by a person.
    inferred: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.inferred <= set(self.domains):
            raise ValueError(f"profile {self.id}: inferred domains it does not have")
        for code, w in self.domains.items():
            if not 0.0 < w <= 1.0:
                raise ValueError(f"profile {self.id}: weight {w} of {code} is outside (0, 1]")

    def quantized(self) -> dict[str, int]:
        """Domain weights in thousandths, at least 1 so a listed domain never vanishes."""
        return {code: max(1, quantize(value=w)) for code, w in sorted(self.domains.items())}
