"""The domain forest, how two domains relate, and the parties scored against it."""

from __future__ import annotations

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
    """Domain code to parent code (None for a root); the domains form a forest."""

    parents: Mapping[str, str | None]
    codes: tuple[str, ...] = field(init=False)

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
        object.__setattr__(self, "parents", dict(self.parents))
        # Sorted so that matrix columns, and with them every sum, come in one order everywhere.
        object.__setattr__(self, "codes", tuple(sorted(self.parents)))

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


def coefficient(*, relation: Relation | None, weights: ScoringWeights) -> int:
    """The relation's coefficient in thousandths; 0 for unrelated domains."""
    match relation:
        case Relation.EXACT:
            return quantize(value=weights.exact)
        case Relation.PARENT_CHILD:
            return quantize(value=weights.parent_child)
        case Relation.GRANDPARENT:
            return quantize(value=weights.grandparent)
        case Relation.SIBLING:
            return quantize(value=weights.sibling)
        case _:
            return 0


@dataclass(frozen=True, slots=True)
class Profile:
    """One committee or organization: its domains weighted in (0, 1] and its text tokens.

    `tokens` come from `text_tokens` over the committee's scope or the organization's
    standardization needs; empty when there is no text.
    """

    id: str
    domains: Mapping[str, float]
    tokens: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for code, w in self.domains.items():
            if not 0.0 < w <= 1.0:
                raise ValueError(f"profile {self.id}: weight {w} of {code} is outside (0, 1]")

    def quantized(self) -> dict[str, int]:
        """Domain weights in thousandths, at least 1 so a listed domain never vanishes."""
        return {code: max(1, quantize(value=w)) for code, w in sorted(self.domains.items())}
