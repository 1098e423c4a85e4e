"""The coefficients of the matching formula, kept together so configuration owns them."""

from __future__ import annotations

from dataclasses import dataclass, fields

# Weights and relation coefficients become integers in thousandths before any sum is taken, so
# every process and both databases (which may hand back 0.7 as 0.69999...) add the same numbers.
SCALE = 1000


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """Every coefficient of the score; fields are plain floats so Settings can fill them."""

    exact: float = 1.0
    parent_child: float = 0.6
    grandparent: float = 0.3
    sibling: float = 0.3
    text: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"scoring weight {f.name}={value} is outside [0, 1]")
        if self.exact <= 0.0:
            raise ValueError("scoring weight exact must be positive")
        # An exact match has to be the best relation, or adding a shared domain could lower a
        # score (see docs/matching.md, "Monotonicity").
        for name in ("parent_child", "grandparent", "sibling"):
            if getattr(self, name) > self.exact:
                raise ValueError(f"scoring weight {name} exceeds exact")


def quantize(*, value: float) -> int:
    """The value in thousandths, rounded half away from zero."""
    return int(value * SCALE + 0.5)
