"""The B2B meeting scheduling benchmark solved with the shared slot model."""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.scheduling.dzn import Instance
from service.scheduling.rules import check_bmsp, participant_breaks
from service.scheduling.slotting import Level, SlotProblem, Task, build, solve_levels


@dataclass(frozen=True, slots=True)
class BmspResult:
    """A solved instance: status, total breaks and the slot of each meeting in file order."""

    status: str
    breaks: int | None
    slots: tuple[int, ...]
    bound: int | None
    seconds: float


def to_slot_problem(instance: Instance, *, d: int | None) -> SlotProblem:
    """Translate a benchmark instance to the shared slot problem (people become 0-based)."""
    tasks = tuple(
        Task(a=a - 1, b=b - 1, slots=tuple(instance.allowed_slots(m)))
        for m, (a, b, _) in enumerate(instance.requested, start=1)
    )
    precedences = tuple(
        (i - 1, j - 1)
        for j, earlier in enumerate(instance.precedences, start=1)
        for i in sorted(earlier)
    )
    return SlotProblem(
        n_people=instance.n_business,
        n_slots=instance.n_slots,
        capacity=(instance.n_tables,) * instance.n_slots,
        tasks=tasks,
        precedences=precedences,
        fairness=d,
        fairness_over_all=True,
    )


def solve_bmsp(
    *,
    instance: Instance,
    d: int | None = 2,
    time_limit: float = 60.0,
    seed: int = 0,
    workers: int = 2,
) -> BmspResult:
    """Minimise total breaks under the benchmark's rules; the answer is checked before return."""
    started = time.monotonic()
    problem = to_slot_problem(instance, d=d)
    if any(not t.slots for t in problem.tasks):
        # A meeting with no allowed slot makes the instance infeasible before any search.
        return BmspResult("infeasible", None, (), None, time.monotonic() - started)
    sm = build(problem)
    outcome = solve_levels(
        sm,
        problem,
        [Level("breaks", sm.total_breaks)],
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        core=True,
    )
    seconds = time.monotonic() - started
    if not outcome.levels:
        return BmspResult(outcome.status, None, (), None, seconds)
    slots = tuple(outcome.slot_of[i] for i in range(instance.n_meetings))
    problems = check_bmsp(instance=instance, slots=slots, d=d)
    if problems:
        raise AssertionError(f"solver answer breaks the rules: {problems[0]}")
    level = outcome.levels[0]
    total = sum(participant_breaks(instance=instance, slots=slots))
    # Break booleans are only pushed down by the objective, so an unproven answer may overcount.
    if total > level.value or (outcome.status == "optimal" and total != level.value):
        raise AssertionError(f"model counted {level.value} breaks, the checker {total}")
    return BmspResult(outcome.status, total, slots, level.bound, seconds)
