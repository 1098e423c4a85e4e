"""The event-day scheduling engine: which candidate pairs meet, in which slot, at which table.

Lexicographic objective, most important first: required pairs left out, total shortfall under
min_meetings, total weight (maximised), previous meetings moved or dropped (rebuild mode only),
total breaks. A min-cost flow over the pairs (a relaxation) bounds levels 1-3 in milliseconds;
when its pairs all fit in slots those levels are proven and breaks get a small time budget. Else
a CP-SAT selection model, then the time-indexed model: over every candidate on small events
("exact"), over the selected pairs on large ones ("decomposed").

The time limit is spent on a work clock (`clock.py`), not the wall clock: every step's budget
is what that clock leaves, so one input gives one schedule, in a build worker beside a busy API
as on a quiet machine.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from ortools.sat.python import cp_model

from service.solver.at_floor import FloorSearch
from service.solver.clock import MOVE_SECONDS, WorkClock
from service.solver.floors import person_floors
from service.solver.kempe import Stats, improve_breaks
from service.solver.prepared import (
    Prepared,
    add_rules,
    add_seating,
    objective_of,
    prepare,
    rank,
)
from service.solver.problem import (
    Mode,
    Placement,
    Problem,
    Progress,
    Solution,
    Status,
    Unmet,
)
from service.solver.proof import DESCEND_GAP, prove_breaks
from service.solver.selection import freedom_of, select_flow
from service.solver.slotting import (
    Level,
    LevelResult,
    SlotProblem,
    build,
    solve_levels,
    solver_for,
)

# Above this many (pair, slot) booleans the one-model solve gets slow; decompose instead.
EXACT_LIMIT = 40_000
# Up to this many (pair, slot) booleans over the pairs an optimal selection can take, a break
# model over them runs after the search to prove a bound (100x300, 12,000: it found nothing in
# 3 s, so the search keeps that time).
BOUND_LIMIT = 6_000
# Kempe-chain search budget in tried moves (`clock.MOVE_SECONDS` each), or fewer when the
# tail's share of the work buys fewer. Where the decision model follows (small events) the
# search only needs a good start for it; elsewhere it is all there is, and a longer cooling
# finds more (100x300 from one placement, two seeds each: 4 million moves 35 and 38, 8 million
# 34 and 35, 16 million 33 and 33, its floor, reached after 5.6-7.7 million).
# At least 200,000 unless the share of work buys fewer (bench demo generator, seeds 1-4, on the
# work clock: 0.53-0.64 s each; with 150,000 the first search of seed 1 stopped at 8 and two
# restarts followed, 1.02 s).
SEARCH_MOVES_MIN = 200_000
SEARCH_MOVES_PER_PAIR = 16_000
SEARCH_MOVES_PER_PAIR_BEFORE_PROOF = 1_000
# Further seeded searches before the decision model while the best is more than DESCEND_GAP
# above the bound.
SEARCH_RESTARTS = 2
# The decision model's share of the breaks budget left after the search.
PROOF_SHARE = 0.75
# ... or up to this long, when that is more, within the time limit: the breaks budget of a
# small event is short (3-6 s), and the decision model mostly closes what it starts (50x90 with
# 10 slots, bench generator, seeds 1 and 2: proven in 5.1 and 6.3 s where the share ended them
# `feasible` at 20 (19) and 15 (14)); the call returns as soon as it does.
PROOF_SECONDS = 10.0
LEVELS = ("required_missing", "shortfall", "weight", "changes", "breaks")


class _Reporter:
    """Hands the caller each step's figures, merged with what was known before; a no-op without
    a callback. Called a handful of times a run, between solver calls, so it costs nothing."""

    def __init__(self, callback: Callable[[Progress], None] | None) -> None:
        self.callback = callback
        self.last = Progress(stage="start")

    def __call__(self, stage: str, **figures: int | None) -> None:
        if self.callback is None:
            return
        self.last = replace(self.last, stage=stage, **figures)
        self.callback(self.last)


def _levels(
    exprs: dict[str, cp_model.LinearExprT], *, rebuild: bool, breaks: cp_model.LinearExprT | None
) -> list[Level]:
    """The lexicographic levels in order."""
    levels = [
        Level("required_missing", exprs["required_missing"]),
        Level("shortfall", exprs["shortfall"]),
        Level("weight", exprs["weight"], sense=-1),
    ]
    if rebuild:
        levels.append(Level("changes", exprs["changes"]))
    if breaks is not None:
        levels.append(Level("breaks", breaks, core=True))
    return levels


def _solve_placement(
    prep: Prepared,
    keep: Sequence[int],
    *,
    fairness: int | None,
    rebuild: bool,
    time_limit: float,
    clock: WorkClock,
    seed: int,
    workers: int,
    hint: dict[int, int],
    only: Sequence[str] = LEVELS,
    reached: dict[str, int] | None = None,
    weight_cap: int | None = None,
    place_all: bool = False,
    core: bool | None = None,
    must: frozenset[int] = frozenset(),
) -> tuple[list[LevelResult], dict[int, int], str]:
    """The time-indexed model over the tasks in `keep`; returns levels and task -> slot.

    `only` names the levels to optimise; `reached` pins earlier levels at values already
    proven; `weight_cap` is a proven upper bound on the weight, a cut for the weight level.
    """
    tasks = tuple(
        replace(prep.tasks[i], required=True) if place_all or i in must else prep.tasks[i]
        for i in keep
    )
    problem = SlotProblem(
        n_people=len(prep.event.participants),
        n_slots=prep.event.slots,
        capacity=prep.capacity,
        tasks=tasks,
        fairness=fairness,
        fairness_over_all=False,
    )
    sm = build(problem)
    sub = replace(
        prep,
        tasks=list(tasks),
        task_candidate=[prep.task_candidate[i] for i in keep],
    )
    exprs = add_rules(sm.model, sub, sm.placed)
    if rebuild:
        kept = [
            sm.x[j, prep.previous_slot[i]]
            for j, i in enumerate(keep)
            if i in prep.previous_slot and (j, prep.previous_slot[i]) in sm.x
        ]
        exprs["changes"] = len(prep.previous_slot) - sum(kept)
    for name, value in (reached or {}).items():
        if name == "weight":
            sm.model.add(exprs[name] >= value)
        else:
            sm.model.add(exprs[name] <= value)
    if weight_cap is not None:
        sm.model.add(exprs["weight"] <= weight_cap)
    levels = [
        # With every pair placed, plain search finds few breaks fast; core-guided search there
        # often found no placement at all within the time.
        replace(lv, core=core if core is not None else lv.core and not place_all)
        for lv in _levels(exprs, rebuild=rebuild, breaks=sm.total_breaks)
        if lv.name in only
    ]
    outcome = solve_levels(
        sm,
        problem,
        levels,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        hint={j: hint[i] for j, i in enumerate(keep) if i in hint},
        clock=clock,
    )
    slot_of = {keep[j]: s for j, s in outcome.slot_of.items()}
    return outcome.levels, slot_of, outcome.status


def _select(
    prep: Prepared, *, rebuild: bool, time_limit: float, clock: WorkClock, seed: int, workers: int
) -> tuple[list[int], list[LevelResult], str]:
    """Choose pairs without slots, under every count the slots imply; a relaxation of the day."""
    m = cp_model.CpModel()
    y = [m.new_bool_var(f"y{i}") for i in range(len(prep.tasks))]
    for i, t in enumerate(prep.tasks):
        if t.required:
            m.add(y[i] == 1)
    groups: dict[tuple[str, object], list[int]] = defaultdict(list)
    slot_sets: dict[tuple[str, object], set[int]] = defaultdict(set)
    for i, t in enumerate(prep.tasks):
        span = frozenset(t.slots)
        for p in (t.a, t.b):
            groups["person", p].append(i)
            slot_sets["person", p] |= span
            # A person meets at most once per slot, so tasks confined to few slots are capped.
            groups["person-span", (p, span)].append(i)
            slot_sets["person-span", (p, span)] = set(span)
        if t.table is not None:
            groups["table", t.table].append(i)
            slot_sets["table", t.table] |= span
        groups["span", span].append(i)
        slot_sets["span", span] = set(span)
    for key, members in groups.items():
        slots = slot_sets[key]
        cap = sum(prep.capacity[s - 1] for s in slots) if key[0] == "span" else len(slots)
        if len(members) > cap:
            m.add(sum(y[i] for i in members) <= cap)
    m.add(sum(y) <= sum(prep.capacity))
    exprs = add_rules(m, prep, y)
    if rebuild:
        exprs["changes"] = sum(1 - y[i] for i in prep.previous_slot)
    levels = _levels(exprs, rebuild=rebuild, breaks=None)
    results: list[LevelResult] = []
    status = "unknown"
    deadline = clock.now() + time_limit
    chosen: list[int] = []
    for level in levels:
        started = time.monotonic()
        m.minimize(level.sense * level.expr)
        solver = solver_for(
            time_limit=deadline - clock.now(), seed=seed, workers=workers, clock=clock
        )
        code = solver.solve(m)
        clock.solved(solver)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            status = "infeasible" if code == cp_model.INFEASIBLE else status
            break
        value = round(level.sense * solver.objective_value)
        bound = round(level.sense * solver.best_objective_bound)
        results.append(
            LevelResult(
                level.name, value, bound, code == cp_model.OPTIMAL, time.monotonic() - started
            )
        )
        status = "optimal" if code == cp_model.OPTIMAL and status != "feasible" else "feasible"
        chosen = [i for i, v in enumerate(y) if solver.boolean_value(v)]
        m.add(level.sense * level.expr <= level.sense * value)
        m.clear_hints()  # type: ignore[no-untyped-call]
        for i, v in enumerate(y):
            m.add_hint(v, i in set(chosen))
    return chosen, results, status


def _place_all(
    prep: Prepared,
    keep: Sequence[int],
    *,
    time_limit: float,
    clock: WorkClock,
    seed: int,
    workers: int,
    hint: dict[int, int],
) -> dict[int, int] | None:
    """A slot for every task in `keep` under the hard rules, or None (refuted or out of time).

    Only the hard rules, no break counting: on 100x300 this answers in about a second where
    the full time-indexed model found nothing in five.
    """
    m = cp_model.CpModel()
    x = add_seating(m, prep, keep, hint=hint).x
    solver = solver_for(time_limit=time_limit, seed=seed, workers=workers, clock=clock)
    # No LP for a model with nothing to optimise: on one worker, the bench's 50x90 (seed 2)
    # placed in 0.06 units of work instead of 0.74 (0.08 s against 1.4 s); 300x2000 and 100x300
    # the same either way (1.54 and 0.3).
    solver.parameters.linearization_level = 0
    code = solver.solve(m)
    clock.solved(solver)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {i: s for (i, s), v in x.items() if solver.boolean_value(v)}


def _greedy(prep: Prepared) -> dict[int, int]:
    """Slot by slot, seat the best remaining pair that fits: locked, required, then weight."""
    event = prep.event
    limit = [
        p.max_meetings if p.max_meetings is not None else event.slots for p in event.participants
    ]
    count = [0] * len(event.participants)
    slot_of: dict[int, int] = {}
    order = sorted(
        range(len(prep.tasks)),
        key=lambda i: (
            not prep.tasks[i].required,
            not prep.candidates[prep.task_candidate[i]].required,
            -prep.tasks[i].weight,
            i,
        ),
    )
    for s in range(1, event.slots + 1):
        busy: set[int] = set()
        tables: set[int] = set()
        used = 0
        for i in order:
            t = prep.tasks[i]
            if i in slot_of or s not in t.slots or used >= prep.capacity[s - 1]:
                continue
            if t.a in busy or t.b in busy or count[t.a] >= limit[t.a] or count[t.b] >= limit[t.b]:
                continue
            if t.table is not None and t.table in tables:
                continue
            slot_of[i] = s
            busy |= {t.a, t.b}
            count[t.a] += 1
            count[t.b] += 1
            used += 1
            if t.table is not None:
                tables.add(t.table)
    return slot_of


def _assign_tables(prep: Prepared, slot_of: dict[int, int]) -> list[Placement]:
    """Own and locked tables first, then free tables in a stable order, unowned ones first."""
    event = prep.event
    owned = {p.table for p in event.participants if p.table is not None}
    by_slot: dict[int, list[int]] = defaultdict(list)
    for i, s in slot_of.items():
        by_slot[s].append(i)
    out: list[Placement] = []
    for s, items in sorted(by_slot.items()):
        table_of = {i: prep.tasks[i].table for i in items}
        taken = {t for t in table_of.values() if t is not None}
        free = sorted(
            (t for t in range(1, event.tables + 1) if t not in taken),
            key=lambda t: (t in owned, t),
        )
        rest = sorted(
            (i for i in items if prep.tasks[i].table is None),
            key=lambda i: (prep.candidates[prep.task_candidate[i]].a, prep.task_candidate[i]),
        )
        for i in rest:
            # Rebuilds keep a meeting's previous table when it is still free.
            wanted = prep.previous_table.get(i)
            pick = wanted if wanted in free and prep.previous_slot.get(i) == s else free[0]
            free.remove(pick)
            table_of[i] = pick
        for i in items:
            c = prep.candidates[prep.task_candidate[i]]
            table = table_of[i]
            assert table is not None
            out.append(Placement(slot=s, table=table, a=c.a, b=c.b))
    return sorted(out)


def _explain(prep: Prepared, slot_of: dict[int, int]) -> list[Unmet]:
    """Reasons for required pairs left out and participants under their minimum."""
    event = prep.event
    count = [0] * len(event.participants)
    for i in slot_of:
        count[prep.tasks[i].a] += 1
        count[prep.tasks[i].b] += 1
    forced: dict[int, int] = defaultdict(int)
    for i, k in enumerate(prep.task_candidate):
        c = prep.candidates[k]
        if c.required or c.locked:
            forced[prep.tasks[i].a] += 1
            forced[prep.tasks[i].b] += 1
    out: list[Unmet] = []
    for i, k in enumerate(prep.task_candidate):
        c = prep.candidates[k]
        if not c.required or i in slot_of:
            continue
        t = prep.tasks[i]
        reason = "every slot both could use is taken by a meeting of one of them or full"
        for p in (t.a, t.b):
            part = event.participants[p]
            if part.max_meetings is not None and forced[p] > part.max_meetings:
                reason = (
                    f"{part.id} has {forced[p]} required or locked pairs "
                    f"but max_meetings {part.max_meetings}"
                )
        out.append(Unmet("required_pair", (c.a, c.b), reason))
    n_candidates = [0] * len(event.participants)
    for t in prep.tasks:
        n_candidates[t.a] += 1
        n_candidates[t.b] += 1
    for p, part in enumerate(event.participants):
        if count[p] >= part.min_meetings:
            continue
        free = event.slots - len(part.unavailable)
        if n_candidates[p] < part.min_meetings:
            why = f"only {n_candidates[p]} pairs it can meet"
        elif free < part.min_meetings:
            why = f"only {free} available slots"
        else:
            why = "its partners' other meetings, tables or caps leave no more room"
        reason = f"{count[p]} meetings, min {part.min_meetings}: {why}"
        out.append(Unmet("below_min", (part.id,), reason))
    return out


def tail_seconds(time_limit: float, size: int) -> float:
    """Time for the idle-gap levels once the pairs are placed: three seconds on the demo, growing
    with the model, three quarters of the limit at most (100x300 at 60 s: 26 s; 300x2000 at
    60 s: 45 s; both 15 s at 20 s).

    Seconds of work (`clock.py`). The call returns as soon as the breaks are proven (the search
    stops at the bound), so the whole budget is spent only on events it cannot close; on large
    events the at-floor model beside the search may go on to the time limit (`_flow_path`).

    Measured with the bench at 60 s: with half the limit, model size / 2,000 and 4,000 moves a
    pair, 100x300 never reached its floor of 33 (34-38) and 300x2000 reached its 109 in one run
    of four; with this budget and 16,000 moves a pair, 100x300 in three of five (10-13 s; 34
    and 36 after 22-23 s) and 300x2000 in three of three (24-43 s); those were wall-clock runs,
    before the work clock.
    """
    return max(3.0, min(0.75 * time_limit, size / 1000))


def _flow_path(
    prep: Prepared,
    flow: tuple[list[int], list[LevelResult], str],
    *,
    exact: bool,
    rebuild: bool,
    clock: WorkClock,
    deadline: float,
    tail_span: float,
    seed: int,
    workers: int,
    greedy: dict[int, int],
    report: _Reporter,
) -> tuple[list[LevelResult], dict[int, int], str, int, int | None] | None:
    """Place the flow's pairs; when all fit, levels 1-3 are proven and the rest is breaks.

    None when the pairs do not all fit in time (the relaxation's counts ignore which slots two
    people share), leaving the answer to the selection model.

    Breaks: a hard-rules placement, then Kempe-chain local search (`kempe.py`); on exact-size
    events the break model over the pairs some optimal selection can take, hinted, then tries
    to improve it and prove a bound. The breaks bound is the larger of the per-person floor and
    that model's bound, both valid over every schedule optimal on the levels above (see
    `freedom_of`).
    """
    chosen, found, _ = flow
    head = [lv for lv in found if lv.name in ("required_missing", "shortfall", "weight")]
    selected = set(chosen)
    values = {lv.name: lv.value for lv in head}
    tail = ("changes", "breaks") if rebuild else ("breaks",)
    start_hint = {i: s for i, s in greedy.items() if i in selected}
    start_hint.update({i: s for i, s in prep.previous_slot.items() if i in selected})
    placed = _place_all(
        prep,
        chosen,
        time_limit=(deadline - clock.now()) * 0.5,
        clock=clock,
        seed=seed,
        workers=workers,
        hint=start_hint,
    )
    if placed is None:
        return None
    # The breaks budget starts once the pairs are placed: on 300x2000 the placement could take
    # half of a 15 s budget, leaving the search a quarter of it.
    tail_deadline = min(deadline, clock.now() + tail_span)
    freedom = freedom_of(prep)
    floors = person_floors(prep, freedom) if freedom is not None else []
    floor = sum(floors)
    n_people = len(prep.event.participants)
    report(
        "placed",
        weight=values["weight"],
        weight_bound=max(lv.bound for lv in head if lv.name == "weight"),
        breaks=objective_of(prep, placed).breaks,
        breaks_bound=floor,
    )

    def search(
        slot_of: dict[int, int], share: float, per_pair: int, attempt: int = 0
    ) -> dict[int, int]:
        """Kempe-chain local search on its move budget, or on the share of the tail's work
        left when that buys fewer moves; charged the moves it tried."""
        budget = max(0.05, (tail_deadline - clock.now()) * share)
        stats = Stats()
        out = improve_breaks(
            prep.tasks,
            n_people=n_people,
            capacity=prep.capacity,
            slot_of=slot_of,
            previous=prep.previous_slot if rebuild else None,
            seed=seed + attempt,
            moves=min(max(SEARCH_MOVES_MIN, per_pair * len(slot_of)), int(budget / MOVE_SECONDS)),
            seconds=clock.wall_left(),
            floor=floor,
            stats=stats,
        )
        clock.charge(stats.tried * MOVE_SECONDS)
        if stats.cut:
            clock.repeatable = False
        return out

    maybe = freedom.maybe if freedom is not None else list(range(len(prep.tasks)))
    sure = freedom.sure if freedom is not None else frozenset()
    bounded = exact and sum(len(prep.tasks[i].slots) for i in maybe) <= BOUND_LIMIT
    # The search is what lowers breaks; the model below mostly proves bounds, so on large
    # events (where it does not run) the search gets nearly all the budget.
    if bounded:
        placed = search(placed, 0.5, SEARCH_MOVES_PER_PAIR_BEFORE_PROOF)
        for attempt in range(1, SEARCH_RESTARTS + 1):
            # Far above the bound the decision model climbs from it and then has to find the
            # schedule (bench demo, seed 2, with the earlier CP-SAT model: the search stopped
            # at 8, the model refuted 5 and then found nothing at 7 in its time); another
            # seeded run from the best mostly finds it (7) in a third of a second.
            if objective_of(prep, placed).breaks - floor <= DESCEND_GAP:
                break
            placed = search(placed, 0.5, SEARCH_MOVES_PER_PAIR_BEFORE_PROOF, attempt)
    elif (
        workers > 1
        and not rebuild
        and freedom is not None
        and objective_of(prep, placed).breaks > floor
    ):
        # Beside the search, on the other core, the at-floor model (`at_floor.py`): 100x300
        # reaches its floor of 33 there in 11-34 s where the search alone ends at 34-36 after
        # 24 s. The model may use the whole time limit: the tail's span is what the search's
        # cooling needs. Each runs on its own budget, so which answers is no race: the search's
        # schedule when it reaches the floor (the model is then stopped), else the model's at
        # the end of its budget. They ran side by side: the clock is charged the longer.
        race = FloorSearch(
            prep, chosen, floors, hint=placed, budget=deadline - clock.now(), clock=clock, seed=seed
        )
        try:
            before = clock.now()
            placed = search(placed, 0.9, SEARCH_MOVES_PER_PAIR)
            if objective_of(prep, placed).breaks > floor:
                at_floor = race.wait()
                clock.charge(max(0.0, race.work - (clock.now() - before)))
                if at_floor is not None:
                    placed = at_floor
        finally:
            race.stop()
    else:
        placed = search(placed, 0.9, SEARCH_MOVES_PER_PAIR)
    got = objective_of(prep, placed)
    bound = floor
    # Previous meetings whose pair is no longer a candidate count as changes in every schedule
    # (`objective_of` includes them, the models do not): only changes above them are open.
    forced = prep.dropped_previous
    if rebuild and got.changes > forced and not bounded:
        # The break model over the chosen pairs lowers changes, which the search only keeps
        # from growing.
        more, better, _ = _solve_placement(
            prep,
            chosen,
            fairness=None,
            rebuild=rebuild,
            time_limit=(tail_deadline - clock.now()) * 0.7,
            clock=clock,
            seed=seed,
            workers=workers,
            hint=placed,
            only=tail,
            place_all=True,
        )
        if more and rank(prep, better) < rank(prep, placed):
            placed = search(better, 1.0, SEARCH_MOVES_PER_PAIR)
    slot_of = placed
    got = objective_of(prep, slot_of)
    report("searched", breaks=got.breaks)
    if bounded and freedom is not None and got.breaks > bound and got.changes <= forced:
        now = clock.now()
        proof = prove_breaks(
            prep,
            freedom,
            values,
            best=slot_of,
            bound=bound,
            clock=clock,
            # Within the budget the break model below keeps a share, for when the decision
            # model runs out of time or stops at a schedule no better than the best.
            deadline=min(
                deadline, max(now + PROOF_SHARE * (tail_deadline - now), now + PROOF_SECONDS)
            ),
        )
        bound = proof.bound
        if proof.slot_of is not None:
            slot_of = proof.slot_of
        got = objective_of(prep, slot_of)
        report("proved", breaks=got.breaks, breaks_bound=bound)
    full: list[LevelResult] = []
    open_tail = got.breaks > bound or (rebuild and got.changes > forced)
    if bounded and open_tail and clock.now() < tail_deadline:
        # The tail over every pair some schedule optimal on levels 1-3 can take, those all
        # take required, levels 1-3 pinned: its bounds hold over all those schedules, and it is
        # far smaller (demo: 162 of 304 pairs) and far stronger (bound 6 in 0.7 s where the
        # model over every candidate proved nothing) than the model over every candidate.
        full, everywhere, _ = _solve_placement(
            prep,
            maybe,
            fairness=None,
            rebuild=rebuild,
            time_limit=tail_deadline - clock.now(),
            clock=clock,
            seed=seed,
            workers=workers,
            hint=slot_of,
            only=tail,
            reached=values,
            core=False,
            must=sure,
        )
        if full and rank(prep, everywhere) <= rank(prep, slot_of):
            slot_of = everywhere
        got = objective_of(prep, slot_of)
    last = {lv.name: lv for lv in full}
    if "breaks" in last:
        # Solved after the levels above were pinned at values no better than their optimum:
        # its bound covers a superset of the schedules the breaks level ranges over.
        bound = max(bound, last["breaks"].bound)
    levels = [*head]
    if rebuild:
        lv = last.get("changes")
        # The model's changes leave out the forced ones.
        proven = (
            lv is not None
            and lv.value + forced == got.changes
            and (lv.optimal or lv.bound >= lv.value)
        )
        levels.append(
            LevelResult(
                "changes",
                got.changes,
                got.changes if proven else forced,
                proven or got.changes == forced,
                lv.seconds if lv else 0.0,
            )
        )
    levels.append(LevelResult("breaks", got.breaks, bound, got.breaks <= bound, 0.0))
    # A breaks bound holds for every schedule equal above it: only when those are proven.
    breaks_bound = bound if all(lv.optimal for lv in levels if lv.name != "breaks") else None
    status = "optimal" if all(lv.optimal for lv in levels) else "feasible"
    return levels, slot_of, status, values["weight"], breaks_bound


def _model_path(
    prep: Prepared,
    *,
    method: str,
    fairness: int | None,
    rebuild: bool,
    time_limit: float,
    clock: WorkClock,
    deadline: float,
    seed: int,
    workers: int,
    greedy: dict[int, int],
    report: _Reporter,
) -> tuple[list[LevelResult], dict[int, int], str, int | None]:
    """Selection by CP-SAT, then placement: when the flow does not apply or its pairs do not fit."""
    everything = list(range(len(prep.tasks)))
    chosen, sel_levels, sel_status = _select(
        prep, rebuild=rebuild, time_limit=time_limit * 0.25, clock=clock, seed=seed, workers=workers
    )
    sel = {lv.name: lv for lv in sel_levels}
    weight_bound = sel["weight"].bound if "weight" in sel else None
    report("selected", weight_bound=weight_bound)
    head = ("required_missing", "shortfall", "weight")
    tail = ("changes", "breaks")
    levels: list[LevelResult] = []
    slot_of: dict[int, int] = {}
    status = sel_status
    if sel_status != "infeasible":
        keep = chosen or everything
        selected = set(keep)
        # The tail levels are first optimised over the selected pairs: cheap, and at zero
        # (no changes, no breaks) trivially optimal over every candidate too.
        place_only = LEVELS
        settled = {k: sel[k].value for k in head[:2] if k in sel and sel[k].optimal}
        # Place the selected pairs; when they all fit, the selection bound proves the weight.
        # Place every selected pair (levels 1-3 then equal the relaxation's proven optimum),
        # else hold the two top levels there, else solve every level.
        whole = sel_status == "optimal" and all(k in sel for k in head)
        for attempt in ("all", "pinned", "free") if whole else ("pinned", "free"):
            levels, slot_of, status = _solve_placement(
                prep,
                keep,
                fairness=fairness,
                rebuild=rebuild,
                time_limit=(deadline - clock.now()) * (0.4 if method == "exact" else 1.0),
                clock=clock,
                seed=seed,
                workers=workers,
                hint={i: s for i, s in greedy.items() if i in selected},
                # First try with the two top levels held at the relaxation's optimum: one
                # solve instead of three, and reaching them proves them.
                only={"all": tail, "pinned": [k for k in place_only if k not in settled]}.get(
                    attempt, place_only
                ),
                reached=settled if attempt == "pinned" else None,
                place_all=attempt == "all",
            )
            if levels or (attempt == "pinned" and not settled):
                break
        if attempt == "all":
            levels = [LevelResult(k, sel[k].value, sel[k].value, True, 0.0) for k in head] + levels
        if attempt == "pinned":
            levels = [LevelResult(k, v, v, True, 0.0) for k, v in settled.items()] + levels
        got = {lv.name: lv.value for lv in levels}
        tight = all(k in sel and sel[k].optimal and got.get(k) == sel[k].value for k in head)
        if tight:
            levels = [
                replace(lv, optimal=True, bound=sel[lv.name].bound) if lv.name in head else lv
                for lv in levels
            ]
        # Over the selected pairs only, a tail level is proven for every candidate when it is 0.
        levels = [
            replace(lv, optimal=lv.value == 0, bound=0) if lv.name in tail else lv for lv in levels
        ]
        status = "optimal" if levels and all(lv.optimal for lv in levels) else status
        if status == "optimal" and not tight:
            status = "feasible"
        settled_tail = tight and all(got.get(k, 0) == 0 for k in tail)
        if method == "exact" and levels and not settled_tail:
            # The later levels range over every candidate, not only the selected ones.
            same_top = all(got.get(k) == sel[k].value for k in head[:2] if k in sel)
            more, full_slot_of, _ = _solve_placement(
                prep,
                everything,
                fairness=fairness,
                rebuild=rebuild,
                time_limit=deadline - clock.now(),
                clock=clock,
                seed=seed,
                workers=workers,
                hint=slot_of,
                only=tail if tight else LEVELS,
                reached={k: got[k] for k in head if k in got} if tight else None,
                weight_cap=weight_bound if same_top else None,
            )

            def rank(sl: dict[int, int]) -> tuple[int, int, int, int, int]:
                o = objective_of(prep, sl)
                return (o.required_missing, o.shortfall, -o.weight, o.changes, o.breaks)

            if more and rank(full_slot_of) <= rank(slot_of):
                slot_of = full_slot_of
                names = {lv.name for lv in more}
                levels = [lv for lv in levels if lv.name not in names] + more
                status = "optimal" if all(lv.optimal for lv in levels) else "feasible"
    return levels, slot_of, status, weight_bound


def schedule_event(
    *,
    event: Problem,
    mode: Mode = "rebuild",
    previous: Sequence[Placement] = (),
    fairness: int | None = None,
    time_limit: float = 30.0,
    seed: int = 0,
    workers: int = 2,
    method: Literal["auto", "exact", "decomposed"] = "auto",
    progress: Callable[[Progress], None] | None = None,
) -> Solution:
    """Schedule an event day; `previous` is kept exactly in fill mode, changed little in rebuild.

    `progress`, when given, is called with the best weight and breaks and their bounds each time
    a step of the run improves them. `time_limit` is work (`clock.py`): the same input gives the
    same answer. With `workers` above 1 the at-floor model runs beside the search on a second
    core; each CP-SAT solve runs on one worker, which keeps it repeatable.
    """
    started = time.monotonic()
    report = _Reporter(progress)
    prep = prepare(event, mode=mode, previous=previous)
    rebuild = mode == "rebuild" and bool(previous)
    size = sum(len(t.slots) for t in prep.tasks)
    if method == "auto":
        method = "exact" if size <= EXACT_LIMIT else "decomposed"
    if not prep.tasks:
        method = "exact"
    greedy = _greedy(prep)
    if greedy:
        report("greedy", weight=objective_of(prep, greedy).weight)
    # The limit is spent as work, so the run repeats on the same input (`clock.py`).
    clock = WorkClock(time_limit)
    deadline = clock.now() + time_limit
    flow = select_flow(prep, rebuild=rebuild) if fairness is None else None
    quick = None
    if flow is not None:
        quick = _flow_path(
            prep,
            flow,
            exact=method == "exact",
            rebuild=rebuild,
            clock=clock,
            deadline=deadline,
            tail_span=tail_seconds(time_limit, size),
            seed=seed,
            workers=workers,
            greedy=greedy,
            report=report,
        )
    breaks_bound: int | None = None
    weight_bound: int | None
    if quick is not None:
        levels, slot_of, status, weight_bound, breaks_bound = quick
    else:
        levels, slot_of, status, weight_bound = _model_path(
            prep,
            method=method,
            fairness=fairness,
            rebuild=rebuild,
            time_limit=time_limit,
            clock=clock,
            deadline=deadline,
            seed=seed,
            workers=workers,
            greedy=greedy,
            report=report,
        )

    def rank_of(sl: dict[int, int]) -> tuple[int, int, int]:
        o = objective_of(prep, sl)
        return (o.required_missing, o.shortfall, -o.weight)

    if levels and greedy and rank_of(greedy) < rank_of(slot_of):
        # A solver cut short can trail the baseline; never answer worse than greedy.
        slot_of, status = greedy, "feasible"
    if status != "infeasible" and not levels and greedy:
        # Out of time before any model answer: the greedy schedule obeys every hard rule.
        levels = [LevelResult("greedy", 0, 0, False, 0.0)]
        slot_of, status = greedy, "feasible"
    if status in ("infeasible", "unknown") or not levels:
        return Solution(
            status=_status(status),
            meetings=(),
            objective=None,
            weight_bound=weight_bound,
            weight_gap=None,
            unmet=tuple(prep.unmet),
            method=method,
            seconds=time.monotonic() - started,
            breaks_bound=None,
            repeatable=clock.repeatable,
        )
    meetings = _assign_tables(prep, slot_of)
    objective = objective_of(prep, slot_of)
    if weight_bound is not None:
        weight_bound = max(weight_bound, objective.weight)
    gap = None
    if weight_bound is not None:
        gap = (weight_bound - objective.weight) / weight_bound if weight_bound else 0.0
    report(
        "done",
        weight=objective.weight,
        weight_bound=weight_bound,
        breaks=objective.breaks,
        breaks_bound=breaks_bound,
    )
    return Solution(
        status=_status(status),
        meetings=tuple(meetings),
        objective=objective,
        weight_bound=weight_bound,
        weight_gap=gap,
        unmet=tuple(prep.unmet + _explain(prep, slot_of)),
        method=method,
        seconds=time.monotonic() - started,
        breaks_bound=breaks_bound,
        repeatable=clock.repeatable,
    )


def greedy_schedule(*, event: Problem) -> Solution:
    """The baseline: fill slot by slot with the best remaining pair; no optimality claim."""
    started = time.monotonic()
    prep = prepare(event, mode="rebuild", previous=())
    slot_of = _greedy(prep)
    meetings = _assign_tables(prep, slot_of)
    return Solution(
        status="feasible",
        meetings=tuple(meetings),
        objective=objective_of(prep, slot_of),
        weight_bound=None,
        weight_gap=None,
        unmet=tuple(prep.unmet + _explain(prep, slot_of)),
        method="greedy",
        seconds=time.monotonic() - started,
    )


def _status(text: str) -> Status:
    """Narrow a status string to the public literal."""
    if text == "optimal":
        return "optimal"
    if text == "feasible":
        return "feasible"
    if text == "infeasible":
        return "infeasible"
    return "unknown"
