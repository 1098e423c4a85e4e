"""The time-indexed CP-SAT model shared by the event-day engine and the B2B benchmark.

A task is a pair of people that may meet in one of its allowed slots. A boolean x[t, s] says task
t sits in slot s. Breaks are counted through runs: a run of person p starts in slot s when p is
busy in s and not in s - 1, and the breaks of p are its runs minus one (zero without meetings).
Both definitions are exact, which the fairness bound needs: an overcounted break could lift the
minimum and make an unfair schedule look fair.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ortools.sat.python import cp_model

from service.solver.clock import DTIME_SECONDS, WorkClock

Expr = cp_model.LinearExprT
# A model's boolean: a CP-SAT variable, or a CNF literal.
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Task:
    """A meeting to place: two people, the slots it may take, whether it must be placed."""

    a: int
    b: int
    slots: tuple[int, ...]
    required: bool = True
    weight: int = 0
    # Tasks sharing a table (a committee's own table) take it at most once per slot.
    table: int | None = None


@dataclass(slots=True)
class Seats(Generic[V]):
    """A model's booleans x[task, slot], and the ones that concern each task (`rows`), person
    and slot (`at`), table and slot, and slot; per person, its tasks. Shared by the CP-SAT
    models and the SAT decision model, which state the same hard rules on them."""

    x: dict[tuple[int, int], V] = field(default_factory=dict)
    rows: dict[int, list[V]] = field(default_factory=dict)
    at: dict[tuple[int, int], list[V]] = field(default_factory=lambda: defaultdict(list))
    tables: dict[tuple[int, int], list[V]] = field(default_factory=lambda: defaultdict(list))
    by_slot: dict[int, list[V]] = field(default_factory=lambda: defaultdict(list))
    tasks_of: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(
        self, tasks: Sequence[Task], keep: Iterable[int], new: Callable[[int, int], V]
    ) -> Iterator[tuple[int, list[V]]]:
        """For each task i of `keep`, a boolean new(i, s) per slot it may take, indexed; yields
        i and its row, for the caller's rule on how often the task sits."""
        for i in keep:
            t = tasks[i]
            self.tasks_of[t.a].append(i)
            self.tasks_of[t.b].append(i)
            row = []
            for s in t.slots:
                v = new(i, s)
                self.x[i, s] = v
                row.append(v)
                self.at[t.a, s].append(v)
                self.at[t.b, s].append(v)
                self.by_slot[s].append(v)
                if t.table is not None:
                    self.tables[t.table, s].append(v)
            self.rows[i] = row
            yield i, row


@dataclass(frozen=True, slots=True)
class SlotProblem:
    """People 0..n_people-1, slots 1..n_slots with a meeting capacity each, tasks to place."""

    n_people: int
    n_slots: int
    capacity: tuple[int, ...]
    tasks: tuple[Task, ...]
    # (i, j): task i must sit strictly before task j when both are placed.
    precedences: tuple[tuple[int, int], ...] = ()
    fairness: int | None = None
    # True: the spread of breaks is over every person, idle ones (zero breaks) included, as in
    # the benchmark paper; False: only over people with at least one meeting.
    fairness_over_all: bool = True


@dataclass(slots=True)
class SlotModel:
    """A built model and the handles the callers put objectives on."""

    model: cp_model.CpModel
    x: dict[tuple[int, int], cp_model.IntVar]
    placed: list[Expr]
    breaks: list[Expr]
    total_breaks: Expr
    weight: Expr
    missing_required: Expr


def build(problem: SlotProblem) -> SlotModel:
    """Build the CP-SAT model of a slot problem with its implied constraints."""
    m = cp_model.CpModel()
    n_slots = problem.n_slots
    placed: list[Expr] = []
    seats: Seats[cp_model.IntVar] = Seats()
    tasks = problem.tasks
    for i, row in seats.add(tasks, range(len(tasks)), lambda i, s: m.new_bool_var(f"x{i}_{s}")):
        if tasks[i].required:
            m.add_exactly_one(row)
        else:
            m.add_at_most_one(row)
        placed.append(sum(row))
    x, by_person_slot, by_slot, by_table_slot = seats.x, seats.at, seats.by_slot, seats.tables
    tasks_of = [seats.tasks_of[p] for p in range(problem.n_people)]

    for vs in by_person_slot.values():
        m.add_at_most_one(vs)
    for vs in by_table_slot.values():
        m.add_at_most_one(vs)
    for s, vs in by_slot.items():
        if len(vs) > problem.capacity[s - 1]:
            m.add(sum(vs) <= problem.capacity[s - 1])
            # Implied: each meeting occupies two people.
            people = [(p, s) for p in range(problem.n_people) if (p, s) in by_person_slot]
            if len(people) > 2 * problem.capacity[s - 1]:
                m.add(sum(sum(by_person_slot[k]) for k in people) <= 2 * problem.capacity[s - 1])

    for i, j in problem.precedences:
        si = sum(s * x[i, s] for s in problem.tasks[i].slots)
        sj = sum(s * x[j, s] for s in problem.tasks[j].slots)
        both = [placed[i], placed[j]]
        if problem.tasks[i].required and problem.tasks[j].required:
            m.add(si + 1 <= sj)
        else:
            b = m.new_bool_var(f"prec{i}_{j}")
            m.add(b >= sum(both) - 1)
            m.add(si + 1 <= sj).only_enforce_if(b)

    exact = problem.fairness is not None and not _sure_zero(problem, tasks_of)
    breaks: list[Expr] = []
    has_meeting: list[cp_model.IntVar | int] = []
    for p in range(problem.n_people):
        mine = tasks_of[p]
        n_required = sum(1 for i in mine if problem.tasks[i].required)
        busy_sums = [sum(by_person_slot.get((p, s), [])) for s in range(1, n_slots + 1)]
        if len(mine) <= 1:
            breaks.append(0)
            has_meeting.append(1 if n_required else (0 if not mine else _any(m, busy_sums, p)))
            continue
        h, busy_vars = _person_breaks(m, p, by_person_slot, n_slots, exact=exact)
        if n_required == len(mine):
            # Implied: p is busy in exactly as many slots as it has meetings, stated on the busy
            # booleans so a window closed on both sides forces every slot inside it.
            m.add(sum(busy_vars) == n_required)
        count = sum(placed[i] for i in mine)
        _add_span(m, p, by_person_slot, n_slots, count=count, h=h, n_required=n_required)
        breaks.append(sum(h))
        has_meeting.append(1 if n_required else _any(m, busy_sums, p))

    if problem.fairness is not None:
        _add_fairness(m, problem, breaks, has_meeting, tasks_of)

    weight = sum(t.weight * placed[i] for i, t in enumerate(problem.tasks) if t.weight)
    missing = sum(1 - placed[i] for i, t in enumerate(problem.tasks) if t.required)
    return SlotModel(
        model=m,
        x=x,
        placed=placed,
        breaks=breaks,
        total_breaks=sum(breaks),
        weight=weight,
        missing_required=missing,
    )


def _person_breaks(
    m: cp_model.CpModel,
    p: int,
    by_person_slot: dict[tuple[int, int], list[cp_model.IntVar]],
    n_slots: int,
    *,
    exact: bool,
) -> tuple[list[cp_model.IntVar], list[cp_model.IntVar]]:
    """Booleans h[s]: a break of p ends at slot s (busy at s, idle at s-1, busy some time before).

    Minimising pushes h down, so the lower-bounding clauses alone count breaks exactly at an
    optimum; `exact` adds the reverse side for when a lower bound on breaks matters (fairness).
    """
    busy: list[cp_model.IntVar | None] = []
    for s in range(1, n_slots + 1):
        vs = by_person_slot.get((p, s), [])
        if not vs:
            busy.append(None)
            continue
        var = m.new_bool_var(f"busy{p}_{s}")
        m.add(sum(vs) == var)
        busy.append(var)
    before: cp_model.IntVar | None = None
    h: list[cp_model.IntVar] = []
    for k, u in enumerate(busy):
        if u is not None and before is not None:
            v = m.new_bool_var(f"brk{p}_{k + 1}")
            prev = busy[k - 1]
            clause = [u.negated(), before.negated(), v]
            if prev is not None:
                clause.append(prev)
            m.add_bool_or(clause)
            if exact:
                m.add_implication(v, u)
                m.add_implication(v, before)
                if prev is not None:
                    m.add_implication(v, prev.negated())
            h.append(v)
        if u is None:
            continue
        # `before` = p met in some slot up to this one (a prefix OR).
        nxt = m.new_bool_var(f"met{p}_{k + 1}")
        m.add_implication(u, nxt)
        if before is not None:
            m.add_implication(before, nxt)
            if exact:
                m.add_bool_or([before, u, nxt.negated()])
        elif exact:
            m.add_implication(nxt, u)
        before = nxt
    return h, [u for u in busy if u is not None]


def _add_span(
    m: cp_model.CpModel,
    p: int,
    by_person_slot: dict[tuple[int, int], list[cp_model.IntVar]],
    n_slots: int,
    *,
    count: Expr,
    h: list[cp_model.IntVar],
    n_required: int,
) -> None:
    """Implied: without breaks, p's meetings fill the window from its first to its last slot."""
    first = m.new_int_var(1, n_slots, f"first{p}")
    last = m.new_int_var(1, n_slots, f"last{p}")
    for s in range(1, n_slots + 1):
        for v in by_person_slot.get((p, s), []):
            m.add(first <= s).only_enforce_if(v)
            m.add(last >= s).only_enforce_if(v)
    gap = m.new_bool_var(f"gap{p}")
    if n_required:
        m.add(last - first + 1 >= count)
    m.add(last - first + 1 <= count).only_enforce_if(gap.negated())
    m.add(sum(h) >= gap)
    m.add(sum(h) == 0).only_enforce_if(gap.negated())


def _sure_zero(problem: SlotProblem, tasks_of: list[list[int]]) -> bool:
    """Whether someone in the fairness scope surely has zero breaks, pinning the minimum at 0."""
    return any(
        (len(mine) == 0 and problem.fairness_over_all)
        or (len(mine) == 1 and problem.tasks[mine[0]].required)
        for mine in tasks_of
    )


def _any(m: cp_model.CpModel, busy: Sequence[Expr], p: int) -> cp_model.IntVar:
    """A boolean equal to 'person p has at least one meeting'."""
    v = m.new_bool_var(f"any{p}")
    total = sum(busy)
    m.add(total >= v)
    m.add(total <= len(busy) * v)
    return v


def _add_fairness(
    m: cp_model.CpModel,
    problem: SlotProblem,
    breaks: list[Expr],
    has_meeting: list[cp_model.IntVar | int],
    tasks_of: list[list[int]],
) -> None:
    """Bound max breaks - min breaks by problem.fairness over the people in scope."""
    assert problem.fairness is not None
    d = problem.fairness
    top = (problem.n_slots - 1) // 2
    if _sure_zero(problem, tasks_of):
        # The minimum is zero, so the bound is simply per person.
        for b in breaks:
            if not isinstance(b, int):
                m.add(b <= d)
        return
    lo = m.new_int_var(0, top, "min_breaks")
    hi = m.new_int_var(0, top, "max_breaks")
    m.add(hi - lo <= d)
    for b, any_p in zip(breaks, has_meeting, strict=True):
        m.add(hi >= b)
        if problem.fairness_over_all or (isinstance(any_p, int) and any_p == 1):
            m.add(lo <= b)
        elif not isinstance(any_p, int):
            m.add(lo <= b).only_enforce_if(any_p)


@dataclass(slots=True)
class Level:
    """One lexicographic objective: minimise expr (maximise when sense is -1)."""

    name: str
    expr: Expr
    sense: int = 1
    # Core-guided search suits levels whose terms are mostly zero at the optimum (breaks).
    core: bool = False


@dataclass(slots=True)
class LevelResult:
    """What one level reached: its value, the solver's proven bound, whether it is optimal."""

    name: str
    value: int
    bound: int
    optimal: bool
    seconds: float


@dataclass(slots=True)
class Outcome:
    """The end of a lexicographic solve: a status and, when found, a slot per placed task."""

    status: str
    levels: list[LevelResult] = field(default_factory=list)
    slot_of: dict[int, int] = field(default_factory=dict)


def solver_for(
    *,
    time_limit: float,
    seed: int,
    workers: int,
    core: bool = False,
    clock: WorkClock | None = None,
) -> cp_model.CpSolver:
    """A CP-SAT solver configured for this machine (two cores).

    With a `clock` (the event engine), `time_limit` is work and the search is repeatable
    (`clock.py`), on one worker. Without one (the benchmark instances' solver) it is wall time
    and `workers` run CP-SAT's portfolio: they repeat objective values, not always ties.
    """
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.random_seed = seed
    if clock is None:
        params.num_workers = workers
        params.max_time_in_seconds = max(time_limit, 0.01)
    else:
        # One worker on deterministic time repeats its search. Interleaved search, CP-SAT's
        # repeatable parallel mode, found no placement of 300x2000's pairs in 53 units where
        # one worker found it in 1.5 (3.6 s); the engine gives the other core to the at-floor
        # model instead (`engine._flow_path`).
        params.num_workers = 1
        params.max_deterministic_time = max(time_limit, 0.01) / DTIME_SECONDS
        params.max_time_in_seconds = max(clock.wall_left(), 0.01)
    if core:
        # Core-guided bounding proves break counts that are mostly zero far faster than the LP.
        params.optimize_with_core = True
    return solver


def solve_levels(
    sm: SlotModel,
    problem: SlotProblem,
    levels: Sequence[Level],
    *,
    time_limit: float,
    seed: int = 0,
    workers: int = 2,
    core: bool = False,
    hint: dict[int, int] | None = None,
    clock: WorkClock | None = None,
) -> Outcome:
    """Optimise the levels one after the other, freezing each at the value it reached; with a
    `clock`, the limit is its work (`solver_for`)."""
    now = clock.now if clock is not None else time.monotonic
    deadline = now() + time_limit
    outcome = Outcome(status="unknown")
    if hint:
        _hint(sm, hint)
    for k, level in enumerate(levels):
        started = time.monotonic()
        remaining = deadline - now()
        # Give the earlier levels a share, keeping time for the later ones.
        share = remaining if k == len(levels) - 1 else remaining * 0.6
        sm.model.minimize(level.sense * level.expr)
        solver = solver_for(
            time_limit=share,
            seed=seed,
            workers=workers,
            core=core or level.core,
            clock=clock,
        )
        code = solver.solve(sm.model)
        if clock is not None:
            clock.solved(solver)
        elapsed = time.monotonic() - started
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if code == cp_model.INFEASIBLE:
                outcome.status = "infeasible"
            # A level that found nothing keeps the previous level's answer.
            break
        value = round(level.sense * solver.objective_value)
        bound = round(level.sense * solver.best_objective_bound)
        optimal = code == cp_model.OPTIMAL
        outcome.levels.append(LevelResult(level.name, value, bound, optimal, elapsed))
        outcome.slot_of = {i: s for (i, s), v in sm.x.items() if solver.boolean_value(v)}
        outcome.status = "optimal" if optimal and outcome.status != "feasible" else "feasible"
        if level.sense > 0:
            sm.model.add(level.expr <= value)
        else:
            sm.model.add(level.expr >= value)
        sm.model.clear_hints()  # type: ignore[no-untyped-call]
        _hint(sm, outcome.slot_of)
    return outcome


def _hint(sm: SlotModel, slot_of: dict[int, int]) -> None:
    """Hint every x variable from a slot per task (tasks absent from the map are unplaced)."""
    for (i, s), v in sm.x.items():
        sm.model.add_hint(v, slot_of.get(i) == s)
