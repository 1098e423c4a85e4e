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
    text: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"scoring weight {f.name}={value} is outside [0, 1]")
        # Every other relation earns `exact` times a specificity below 1, so an exact match
        # stays the best relation and adding a shared domain never lowers a score.
        if self.exact <= 0.0:
            raise ValueError("scoring weight exact must be positive")


def quantize(*, value: float) -> int:
    """The value in thousandths, rounded half away from zero."""
    return int(value * SCALE + 0.5)
