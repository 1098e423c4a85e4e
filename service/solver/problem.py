"""What the event-day engine takes and gives: plain frozen dataclasses, no database, no web."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Session = Literal["morning", "afternoon", "any"]
Mode = Literal["rebuild", "fill"]
Status = Literal["optimal", "feasible", "infeasible", "unknown"]


@dataclass(frozen=True, slots=True)
class Attendee:
    """Someone who meets: a committee, an organization, or any other kind.

    `table` set means every meeting of this participant happens at that table (1-based).
    `max_meetings` None means no cap beyond the slots themselves.
    """

    id: str
    kind: str = "organization"
    unavailable: frozenset[int] = frozenset()
    min_meetings: int = 0
    max_meetings: int | None = None
    table: int | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pair that may meet; forbidden pairs are simply not candidates.

    `required` (an accepted request) must be placed. `slot` fixes the slot when placed.
    `locked` is an existing meeting that must stay at `slot` and, when given, `table`.
    """

    a: str
    b: str
    weight: int = 0
    required: bool = False
    session: Session = "any"
    slot: int | None = None
    locked: bool = False
    table: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One event day: slots 1..slots, the first `morning_slots` of them in the morning.

    At most `tables` meetings sit in a slot, or `capacity[s - 1]` when given (never above tables).
    """

    slots: int
    tables: int
    participants: tuple[Attendee, ...]
    candidates: tuple[Candidate, ...]
    morning_slots: int | None = None
    capacity: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, order=True)
class Placement:
    """A placed meeting: the pair as given by its candidate, its slot and table."""

    slot: int
    table: int
    a: str
    b: str


@dataclass(frozen=True, slots=True)
class Unmet:
    """Something the schedule could not satisfy, with the reason in words.

    kind: "required_pair" (an accepted request left out), "below_min" (a participant under
    min_meetings), "locked" (an existing meeting that breaks a hard rule and was dropped),
    "candidate" (a pair that can never meet, e.g. two own tables).
    """

    kind: str
    who: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Objective:
    """The value reached at each lexicographic level, most important first."""

    required_missing: int
    shortfall: int
    weight: int
    changes: int
    breaks: int


@dataclass(frozen=True, slots=True)
class Solution:
    """The engine's answer.

    status: "optimal" when every level is proven optimal, "feasible" when a schedule was found
    without that proof, "infeasible" when the hard rules (locked meetings, fairness) admit no
    schedule, "unknown" when the time ran out before any schedule.
    weight_bound: a proven upper bound on the weight of any schedule no worse on the levels above
    it; weight_gap = (bound - weight) / bound (0 when the bound is 0).
    method: "exact" (one time-indexed model) or "decomposed" (selection, then placement).
    breaks_bound: a proven lower bound on the breaks of any schedule equal on the levels above
    (None when those are not proven); breaks - breaks_bound is the breaks gap.
    repeatable: the run spent its limit as work (`clock.py`), so another run on the same input
    gives this same answer; False when the wall-clock guard cut a step short.
    """

    status: Status
    meetings: tuple[Placement, ...]
    objective: Objective | None
    weight_bound: int | None
    weight_gap: float | None
    unmet: tuple[Unmet, ...]
    method: str
    seconds: float
    breaks_bound: int | None = None
    repeatable: bool = True


@dataclass(frozen=True, slots=True)
class Progress:
    """What the engine knows so far, reported as it learns it; None where it does not know yet.

    weight and breaks are those of the best schedule so far; weight_bound is a proven upper bound
    on the weight, breaks_bound a proven lower bound on the breaks (as in `Solution`).
    """

    stage: str
    weight: int | None = None
    weight_bound: int | None = None
    breaks: int | None = None
    breaks_bound: int | None = None
