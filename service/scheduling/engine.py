"""The event-day scheduling engine: which candidate pairs meet, in which slot, at which table.

Lexicographic objective, most important first: required pairs left out, total shortfall under
min_meetings, total weight (maximised), previous meetings moved or dropped (rebuild mode only),
total breaks. A min-cost flow over the pairs (a relaxation) bounds levels 1-3 in milliseconds;
when its pairs all fit in slots those levels are proven and breaks get a small time budget. Else
a CP-SAT selection model, then the time-indexed model: over every candidate on small events
("exact"), over the selected pairs on large ones ("decomposed").
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from service.scheduling.event import (
    Candidate,
    Event,
    Meeting,
    Mode,
    Objective,
    Participant,
    Schedule,
    Status,
    Unmet,
)
from service.scheduling.kempe import improve_breaks
from service.scheduling.slotting import (
    Level,
    LevelResult,
    SlotProblem,
    Task,
    build,
    solve_levels,
    solver_for,
)

# Above this many (pair, slot) booleans the one-model solve gets slow; decompose instead.
EXACT_LIMIT = 40_000
# Interleaved (deterministic) parallel search proved far weaker on the demo event; workers=1
# gives repeatable answers, the default two workers repeat objective values, not always ties.
DETERMINISTIC = False
# Up to this many (pair, slot) booleans over the pairs an optimal selection can take, a break
# model over them runs after the search to prove a bound (100x300, 12,000: it found nothing in
# 3 s, so the search keeps that time).
BOUND_LIMIT = 6_000
# Kempe-chain search budget in tried moves (about 2.5 us each): repeatable when it, not the
# time share, is what stops the search. Where the decision model follows (small events) the
# search only needs a good start for it; elsewhere it is all there is (100x300 reached its
# floor of 33 after about 8 million moves, 42 after 2.4 million).
SEARCH_MOVES_MIN = 150_000
SEARCH_MOVES_PER_PAIR = 4_000
SEARCH_MOVES_PER_PAIR_BEFORE_PROOF = 1_000
# Further seeded searches before the decision model while the best is more than DESCEND_GAP
# above the bound.
SEARCH_RESTARTS = 2
# A person's busy sets are enumerated for the break decision model up to this many.
PATTERN_LIMIT = 300
# Up to this gap between the best schedule and the bound, the decision model asks for one
# fewer than the best; above it, it climbs from the bound.
DESCEND_GAP = 2
# The decision model's share of the breaks budget left after the search.
PROOF_SHARE = 0.75
# The matched per-person floor stops climbing when a run count has more busy sets than this.
MATCH_SETS_LIMIT = 20_000
LEVELS = ("required_missing", "shortfall", "weight", "changes", "breaks")


@dataclass(slots=True)
class _Prepared:
    """Candidates checked and indexed: the tasks that can meet and what never can."""

    event: Event
    people: dict[str, int]
    candidates: list[Candidate]
    tasks: list[Task]
    task_candidate: list[int]
    unmet: list[Unmet]
    capacity: tuple[int, ...]
    previous_slot: dict[int, int]
    previous_table: dict[int, int]
    dropped_previous: int


def _allowed(event: Event, c: Candidate, pa: Participant, pb: Participant) -> list[int]:
    """Slots a candidate may take by session, fixed slot and both sides' availability."""
    morning = event.morning_slots if event.morning_slots is not None else event.slots
    if c.session == "morning":
        slots = range(1, morning + 1)
    elif c.session == "afternoon":
        slots = range(morning + 1, event.slots + 1)
    else:
        slots = range(1, event.slots + 1)
    out = [s for s in slots if s not in pa.unavailable and s not in pb.unavailable]
    if c.slot is not None:
        out = [s for s in out if s == c.slot]
    return out


def _validate(event: Event) -> None:
    """Reject malformed input early with a plain ValueError."""
    if event.slots < 1 or event.tables < 0:
        raise ValueError("an event needs at least one slot and a non-negative table count")
    if event.morning_slots is not None and not 0 <= event.morning_slots <= event.slots:
        raise ValueError("morning_slots must lie within 0..slots")
    if event.capacity is not None and len(event.capacity) != event.slots:
        raise ValueError("capacity needs one entry per slot")
    ids = [p.id for p in event.participants]
    if len(set(ids)) != len(ids):
        raise ValueError("participant ids must be unique")
    for p in event.participants:
        if p.table is not None and not 1 <= p.table <= event.tables:
            raise ValueError(f"{p.id}: table {p.table} outside 1..{event.tables}")
        if p.max_meetings is not None and p.max_meetings < 0:
            raise ValueError(f"{p.id}: negative max_meetings")
    known = set(ids)
    pairs: set[frozenset[str]] = set()
    for c in event.candidates:
        if c.a not in known or c.b not in known:
            raise ValueError(f"candidate {c.a}-{c.b} names an unknown participant")
        if c.a == c.b:
            raise ValueError(f"candidate {c.a}-{c.b} pairs a participant with itself")
        key = frozenset((c.a, c.b))
        if key in pairs:
            raise ValueError(f"pair {c.a}-{c.b} listed twice")
        pairs.add(key)
        if c.weight < 0:
            raise ValueError(f"pair {c.a}-{c.b} has a negative weight")
        if c.slot is not None and not 1 <= c.slot <= event.slots:
            raise ValueError(f"pair {c.a}-{c.b}: slot {c.slot} outside 1..{event.slots}")
        if c.locked and c.slot is None:
            raise ValueError(f"locked pair {c.a}-{c.b} has no slot")
        if c.session != "any" and event.morning_slots is None:
            raise ValueError(f"pair {c.a}-{c.b} asks for a session but the event has none")


def _prepare(event: Event, *, mode: Mode, previous: Sequence[Meeting]) -> _Prepared:
    """Turn candidates into slot-model tasks, setting aside pairs that can never meet."""
    _validate(event)
    people = {p.id: i for i, p in enumerate(event.participants)}
    by_id = {p.id: p for p in event.participants}
    candidates = list(event.candidates)
    index = {frozenset((c.a, c.b)): k for k, c in enumerate(candidates)}
    prev_of: dict[int, Meeting] = {}
    dropped = 0
    for mt in previous:
        key = frozenset((mt.a, mt.b))
        k = index.get(key)
        if mode == "fill":
            # Fill keeps every scheduled meeting exactly, candidate or not.
            if k is None:
                candidates.append(Candidate(mt.a, mt.b))
                k = len(candidates) - 1
                index[key] = k
            candidates[k] = replace(candidates[k], locked=True, slot=mt.slot, table=mt.table)
        elif k is None:
            # A previous meeting that is no longer a candidate is dropped by force.
            dropped += 1
            continue
        prev_of[k] = mt

    capacity = tuple(
        min(event.tables, event.capacity[s] if event.capacity else event.tables)
        for s in range(event.slots)
    )
    tasks: list[Task] = []
    task_candidate: list[int] = []
    unmet: list[Unmet] = []
    previous_slot: dict[int, int] = {}
    previous_table: dict[int, int] = {}
    for k, c in enumerate(candidates):
        pa, pb = by_id[c.a], by_id[c.b]
        reason = None
        table = c.table if c.locked and c.table is not None else None
        own = {t for t in (pa.table, pb.table) if t is not None}
        if len(own) == 2:
            reason = f"both have their own table ({pa.table} and {pb.table})"
        elif own:
            owned = own.pop()
            if table is not None and table != owned:
                reason = (
                    f"locked at table {table} but {c.a if pa.table else c.b} keeps table {owned}"
                )
            table = owned
        if table is not None and not 1 <= table <= event.tables:
            reason = f"table {table} outside 1..{event.tables}"
        slots = _allowed(event, c, pa, pb)
        if reason is None and not slots:
            reason = _no_slot_reason(event, c, pa, pb)
        if reason is not None:
            if c.required or c.locked:
                kind = "locked" if c.locked else "required_pair"
                unmet.append(Unmet(kind, (c.a, c.b), reason))
            elif len(own) == 2:
                unmet.append(Unmet("candidate", (c.a, c.b), reason))
            if k in prev_of:
                dropped += 1
            continue
        if k in prev_of:
            previous_slot[len(tasks)] = prev_of[k].slot
            previous_table[len(tasks)] = prev_of[k].table
        tasks.append(
            Task(
                a=people[c.a],
                b=people[c.b],
                slots=tuple(slots),
                required=c.locked,
                weight=c.weight,
                table=table,
            )
        )
        task_candidate.append(k)
    return _Prepared(
        event=event,
        people=people,
        candidates=candidates,
        tasks=tasks,
        task_candidate=task_candidate,
        unmet=unmet,
        capacity=capacity,
        previous_slot=previous_slot,
        previous_table=previous_table,
        dropped_previous=dropped,
    )


def _no_slot_reason(event: Event, c: Candidate, pa: Participant, pb: Participant) -> str:
    """Say why a pair has no slot it could use."""
    if c.slot is not None:
        gone = [p.id for p in (pa, pb) if c.slot in p.unavailable]
        if gone:
            return f"slot {c.slot} is unavailable for {', '.join(gone)}"
        return f"slot {c.slot} is outside the {c.session} session"
    return f"no slot in the {c.session} session where both {c.a} and {c.b} are available"


def _add_rules(
    m: cp_model.CpModel, prep: _Prepared, placed: Sequence[cp_model.LinearExprT]
) -> dict[str, cp_model.LinearExprT]:
    """Max meetings as hard rules; the expressions of the objective levels."""
    count: dict[int, list[cp_model.LinearExprT]] = defaultdict(list)
    for i, t in enumerate(prep.tasks):
        count[t.a].append(placed[i])
        count[t.b].append(placed[i])
    shortfall: list[cp_model.LinearExprT] = []
    for p, part in enumerate(prep.event.participants):
        mine = count.get(p, [])
        if part.max_meetings is not None and len(mine) > part.max_meetings:
            m.add(sum(mine) <= part.max_meetings)
        if part.min_meetings > 0:
            short = m.new_int_var(0, part.min_meetings, f"short{p}")
            m.add(short >= part.min_meetings - sum(mine))
            shortfall.append(short)
    missing = sum(
        1 - placed[i]
        for i, k in enumerate(prep.task_candidate)
        if prep.candidates[k].required and not prep.tasks[i].required
    )
    weight = sum(t.weight * placed[i] for i, t in enumerate(prep.tasks) if t.weight)
    return {"required_missing": missing, "shortfall": sum(shortfall), "weight": weight}


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
    prep: _Prepared,
    keep: Sequence[int],
    *,
    fairness: int | None,
    rebuild: bool,
    time_limit: float,
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
    exprs = _add_rules(sm.model, sub, sm.placed)
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
        deterministic=DETERMINISTIC,
        hint={j: hint[i] for j, i in enumerate(keep) if i in hint},
    )
    slot_of = {keep[j]: s for j, s in outcome.slot_of.items()}
    return outcome.levels, slot_of, outcome.status


def _select(
    prep: _Prepared, *, rebuild: bool, time_limit: float, seed: int, workers: int
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
    exprs = _add_rules(m, prep, y)
    if rebuild:
        exprs["changes"] = sum(1 - y[i] for i in prep.previous_slot)
    levels = _levels(exprs, rebuild=rebuild, breaks=None)
    results: list[LevelResult] = []
    status = "unknown"
    deadline = time.monotonic() + time_limit
    chosen: list[int] = []
    for level in levels:
        started = time.monotonic()
        m.minimize(level.sense * level.expr)
        solver = solver_for(
            time_limit=deadline - started, seed=seed, workers=workers, deterministic=DETERMINISTIC
        )
        code = solver.solve(m)
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


def _sides(prep: _Prepared, free: Sequence[int]) -> list[int] | None:
    """A two-colouring of the people by the free tasks' pairs, or None when it has an odd cycle."""
    side = [-1] * len(prep.event.participants)
    adjacent: dict[int, list[int]] = defaultdict(list)
    for i in free:
        t = prep.tasks[i]
        adjacent[t.a].append(t.b)
        adjacent[t.b].append(t.a)
    for root in range(len(side)):
        if side[root] >= 0:
            continue
        side[root] = 0
        stack = [root]
        while stack:
            p = stack.pop()
            for q in adjacent[p]:
                if side[q] < 0:
                    side[q] = 1 - side[p]
                    stack.append(q)
                elif side[q] == side[p]:
                    return None
    return side


@dataclass(slots=True)
class _Network:
    """The selection flow network, kept so its optimum can be analysed after the solve.

    Arc k is (tail, head, capacity, cost), also arc k of the OR-Tools solver; `flow[k]` its flow
    at the optimum found. `pair_arc` maps a free task to its arc, `person_arcs` a person to the
    arcs that carry its meeting count.
    """

    n_nodes: int
    arcs: list[tuple[int, int, int, int]]
    flow: list[int]
    pair_arc: dict[int, int]
    person_arcs: dict[int, list[int]]


def _select_flow(
    prep: _Prepared, *, rebuild: bool
) -> tuple[list[int], list[LevelResult], str] | None:
    """The selection relaxation as a min-cost flow: exact in milliseconds, or None when it does
    not apply (pairs not bipartite, a table shared by several people, costs out of range).

    Relaxed counts: a person's tasks <= min(max_meetings, the slots its tasks can use), every
    task <= total capacity. Lexicographic levels become cost scales: a required pair outweighs
    every shortfall unit, which outweighs every weight, which outweighs every kept previous pair.
    """
    solved = _flow_network(prep, rebuild=rebuild)
    if solved is None:
        return None
    chosen, levels, _ = solved
    return chosen, levels, "optimal"


def _flow_network(
    prep: _Prepared, *, rebuild: bool
) -> tuple[list[int], list[LevelResult], _Network] | None:
    """Build and solve the selection flow (see `_select_flow`); the network comes back too."""
    started = time.monotonic()
    event = prep.event
    owners: dict[int, set[int]] = defaultdict(set)
    for p, part in enumerate(event.participants):
        if part.table is not None:
            owners[part.table].add(p)
    locked = [i for i, t in enumerate(prep.tasks) if t.required]
    free = [i for i, t in enumerate(prep.tasks) if not t.required]
    for i in free:
        t = prep.tasks[i]
        # A table's once-per-slot rule is a person's rule only when one person owns it.
        if t.table is not None and owners.get(t.table, set()) - {t.a, t.b} != set():
            return None
    side = _sides(prep, free)
    if side is None:
        return None
    n = len(event.participants)
    usable: list[set[int]] = [set() for _ in range(n)]
    held = [0] * n
    for t in prep.tasks:
        usable[t.a] |= set(t.slots)
        usable[t.b] |= set(t.slots)
        if t.required:
            held[t.a] += 1
            held[t.b] += 1
    cap = [
        min(len(usable[p]), part.max_meetings if part.max_meetings is not None else event.slots)
        - held[p]
        for p, part in enumerate(event.participants)
    ]
    room = sum(prep.capacity) - len(locked)
    if min(cap, default=0) < 0 or room < 0:
        return None
    need = [
        min(cap[p], max(0, part.min_meetings - held[p]))
        for p, part in enumerate(event.participants)
    ]
    scale = len(prep.previous_slot) + 1 if rebuild else 1
    value = [
        prep.tasks[i].weight * scale + (1 if rebuild and i in prep.previous_slot else 0)
        for i in range(len(prep.tasks))
    ]
    unit_short = sum(value[i] for i in free) + 1
    unit_required = unit_short * (sum(need) + 1)
    is_required = [prep.candidates[k].required for k in prep.task_candidate]
    source, sink, hub = n, n + 1, n + 2
    flow = min_cost_flow.SimpleMinCostFlow()
    net = _Network(n_nodes=n + 3, arcs=[], flow=[], pair_arc={}, person_arcs=defaultdict(list))

    def arc(tail: int, head: int, capacity: int, cost: int) -> int:
        k = flow.add_arc_with_capacity_and_unit_cost(tail, head, capacity, cost)
        net.arcs.append((tail, head, capacity, cost))
        return int(k)

    for p in range(n):
        ends = (hub, p) if side[p] == 0 else (p, sink)
        if need[p]:
            net.person_arcs[p].append(arc(*ends, need[p], -unit_short))
        if cap[p] > need[p]:
            net.person_arcs[p].append(arc(*ends, cap[p] - need[p], 0))
    for i in free:
        t = prep.tasks[i]
        a, b = (t.a, t.b) if side[t.a] == 0 else (t.b, t.a)
        cost = -(value[i] + (unit_required if is_required[i] else 0))
        net.pair_arc[i] = arc(a, b, 1, cost)
    arc(source, hub, room, 0)
    arc(source, sink, room, 0)
    flow.set_node_supply(source, room)
    flow.set_node_supply(sink, -room)
    if flow.solve() != flow.OPTIMAL:
        return None
    net.flow = [int(flow.flow(k)) for k in range(len(net.arcs))]
    chosen = sorted(locked + [i for i, k in net.pair_arc.items() if net.flow[k]])
    count = [0] * n
    for i in chosen:
        count[prep.tasks[i].a] += 1
        count[prep.tasks[i].b] += 1
    on = set(chosen)
    parts = event.participants
    values = {
        "required_missing": sum(1 for i, r in enumerate(is_required) if r and i not in on),
        "shortfall": sum(max(0, part.min_meetings - count[p]) for p, part in enumerate(parts)),
        "weight": sum(prep.tasks[i].weight for i in chosen),
    }
    if rebuild:
        values["changes"] = sum(1 for i in prep.previous_slot if i not in on)
    spent = time.monotonic() - started
    levels = [LevelResult(k, v, v, True, spent) for k, v in values.items()]
    return chosen, levels, net


def _free_arcs(net: _Network) -> set[int]:
    """The arcs whose flow differs between optimal flows; every other arc is the same in all.

    Duality: with shortest-path potentials on the residual graph (no negative cycle at an
    optimum) every residual arc has a reduced cost >= 0, and two optimal flows differ by
    residual cycles of total cost 0, whose arcs all have reduced cost 0. So an arc can change
    exactly when its residual arc lies on a cycle of zero-reduced-cost residual arcs: when both
    ends share a strongly connected component of that subgraph.
    """
    n = net.n_nodes
    out: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    for k, (u, v, capacity, cost) in enumerate(net.arcs):
        f = net.flow[k]
        if f < capacity:
            out[u].append((v, cost, k))
        if f > 0:
            out[v].append((u, -cost, k))
    # Bellman-Ford (queue-based) from a virtual root joined to every node at cost 0.
    dist = [0] * n
    queued = [True] * n
    queue = deque(range(n))
    relaxed = 0
    while queue:
        u = queue.popleft()
        queued[u] = False
        du = dist[u]
        for v, cost, _ in out[u]:
            if du + cost < dist[v]:
                dist[v] = du + cost
                relaxed += 1
                if relaxed > n * (len(net.arcs) + n):
                    raise RuntimeError("negative cycle: the flow was not optimal")
                if not queued[v]:
                    queued[v] = True
                    queue.append(v)
    tight: list[list[int]] = [[] for _ in range(n)]
    zero: list[tuple[int, int, int]] = []
    for u in range(n):
        for v, cost, k in out[u]:
            if cost + dist[u] - dist[v] == 0:
                tight[u].append(v)
                zero.append((u, v, k))
    comp = _components(tight)
    # A residual arc of reduced cost 0 lies on a zero cycle when its ends share a component.
    return {k for u, v, k in zero if comp[u] == comp[v]}


def _components(adjacent: list[list[int]]) -> list[int]:
    """Strongly connected components (iterative Tarjan): a component number per node."""
    n = len(adjacent)
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = 0
    found = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            u, k = work[-1]
            if k < len(adjacent[u]):
                work[-1] = (u, k + 1)
                v = adjacent[u][k]
                if index[v] < 0:
                    index[v] = low[v] = counter
                    counter += 1
                    stack.append(v)
                    on_stack[v] = True
                    work.append((v, 0))
                elif on_stack[v]:
                    low[u] = min(low[u], index[v])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[u])
            if low[u] == index[u]:
                while True:
                    v = stack.pop()
                    on_stack[v] = False
                    comp[v] = found
                    if v == u:
                        break
                found += 1
    return comp


@dataclass(slots=True)
class _Freedom:
    """What every schedule optimal on levels 1-3 shares, from the flow's optimal face.

    `unique`: every such schedule meets exactly the chosen pairs. `floor[p]`: p meets at least
    this often in every one; `usable[p]`: the slots p's meetings can take in any of them.
    """

    unique: bool
    floor: list[int]
    usable: list[set[int]]
    # The tasks some optimal selection takes (all others are in none), those all take.
    maybe: list[int]
    sure: frozenset[int]


def _freedom(prep: _Prepared) -> _Freedom | None:
    """Which pairs and meeting counts are the same in every selection optimal on levels 1-3.

    The flow without the rebuild term: its optimal flows are exactly the selections optimal on
    levels 1-3 (a schedule's pairs are a flow of the same cost), a superset of those optimal on
    changes too, so what holds here holds for every schedule the breaks level ranges over.
    """
    solved = _flow_network(prep, rebuild=False)
    if solved is None:
        return None
    chosen, _, net = solved
    free = _free_arcs(net)
    n = len(prep.event.participants)
    on = set(chosen)
    floor = [0] * n
    usable: list[set[int]] = [set() for _ in range(n)]
    possible: list[int] = []
    certain: set[int] = set()
    for i, t in enumerate(prep.tasks):
        k = net.pair_arc.get(i)
        sure = t.required or (k is not None and k not in free and i in on)
        maybe = sure or (k is not None and k in free)
        if maybe:
            possible.append(i)
        if sure:
            certain.add(i)
        for p in (t.a, t.b):
            if maybe:
                usable[p] |= set(t.slots)
            if sure:
                floor[p] += 1
    count = [0] * n
    for i in chosen:
        count[prep.tasks[i].a] += 1
        count[prep.tasks[i].b] += 1
    for p in range(n):
        if not any(k in free for k in net.person_arcs.get(p, [])):
            floor[p] = count[p]
    unique = not any(k in free for k in net.pair_arc.values())
    return _Freedom(
        unique=unique, floor=floor, usable=usable, maybe=possible, sure=frozenset(certain)
    )


def _person_floor(n_slots: int, meetings: int, usable: set[int]) -> int:
    """Fewest breaks of someone with `meetings` meetings in the `usable` slots.

    Meetings in different maximal runs of usable slots are separated by an unusable (so empty)
    slot; the fewest runs that hold them all, minus one, is the least number of idle gaps.
    """
    runs: list[int] = []
    length = 0
    for s in range(1, n_slots + 2):
        if s in usable:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    runs.sort(reverse=True)
    left, used = meetings, 0
    for r in runs:
        if left <= 0:
            break
        left -= r
        used += 1
    return max(0, used - 1)


def _busy_sets(usable: Sequence[int], count: int, runs: int) -> list[tuple[int, ...]]:
    """Every `count`-subset of the sorted `usable` slots made of exactly `runs` runs."""
    free = set(usable)
    out: list[tuple[int, ...]] = []

    def extend(start: int, left: int, runs_left: int, acc: tuple[int, ...]) -> None:
        for a in range(start, usable[-1] + 1):
            if a not in free:
                continue
            length = 0
            while a + length in free and length < left:
                length += 1
                run = acc + tuple(range(a, a + length))
                if runs_left == 1:
                    if length == left:
                        out.append(run)
                elif length < left:
                    # The next run starts after an idle slot.
                    extend(a + length + 1, left - length, runs_left - 1, run)

    if usable and 0 < runs <= count:
        extend(usable[0], count, runs, ())
    return out


def _seats(pair_slots: Sequence[Sequence[int]], busy: Sequence[int]) -> bool:
    """Whether each pair can take its own slot of `busy`, all different (bipartite matching)."""
    taken: dict[int, int] = {}
    allowed = set(busy)

    def augment(k: int, seen: set[int]) -> bool:
        for s in pair_slots[k]:
            if s in allowed and s not in seen:
                seen.add(s)
                if s not in taken or augment(taken[s], seen):
                    taken[s] = k
                    return True
        return False

    return all(augment(k, set()) for k in range(len(pair_slots)))


def _matched_floor(usable: Sequence[int], pair_slots: Sequence[Sequence[int]], start: int) -> int:
    """Fewest breaks of someone who meets exactly these pairs, each in one of its own slots.

    From `start` runs up: the first run count with a busy set the pairs can be seated in (a
    matching) gives the breaks; sets with fewer runs were all checked and none seats them.
    """
    count = len(pair_slots)
    runs = start
    while runs < count:
        sets = _busy_sets(usable, count, runs)
        if len(sets) > MATCH_SETS_LIMIT or any(_seats(pair_slots, b) for b in sets):
            break
        runs += 1
    return runs - 1


def person_floors(prep: _Prepared, freedom: _Freedom) -> list[int]:
    """Per person, a lower bound on its breaks in every schedule optimal on levels 1-3.

    A person whose pairs are the same in every optimal selection needs a busy set its pairs
    can be seated in, each in a slot both sides can use (`_matched_floor`); anyone else at
    least the runs of usable slots that hold its sure count (`_person_floor`).
    """
    n_slots = prep.event.slots
    mine: dict[int, list[int]] = defaultdict(list)
    for i in freedom.maybe:
        mine[prep.tasks[i].a].append(i)
        mine[prep.tasks[i].b].append(i)
    floors = [0] * len(freedom.floor)
    for p, k in enumerate(freedom.floor):
        if k <= 1:
            continue
        low = _person_floor(n_slots, k, freedom.usable[p])
        items = mine[p]
        if all(i in freedom.sure for i in items):
            usable = sorted(freedom.usable[p])
            low = _matched_floor(usable, [prep.tasks[i].slots for i in items], low + 1)
        floors[p] = low
    return floors


def breaks_floor(prep: _Prepared, freedom: _Freedom) -> int:
    """A lower bound on the breaks of every schedule optimal on levels 1-3 (`person_floors`)."""
    return sum(person_floors(prep, freedom))


def _runs(slots: Sequence[int]) -> int:
    """Maximal runs of consecutive slots in a sorted sequence."""
    return sum(1 for k, s in enumerate(slots) if k == 0 or slots[k - 1] != s - 1)


@dataclass(slots=True)
class _Proof:
    """What the break decision model settled: a proven bound, maybe a better schedule."""

    bound: int
    slot_of: dict[int, int] | None


def _prove_breaks(
    prep: _Prepared,
    freedom: _Freedom,
    values: dict[str, int],
    *,
    best: dict[int, int],
    bound: int,
    deadline: float,
    seed: int,
    workers: int,
) -> _Proof:
    """Raise the breaks bound over every schedule optimal on levels 1-3, or find one at it.

    Ascending decisions "breaks <= bound": refuted, the bound rises by one; satisfied, the
    schedule found sits at the bound, so it is optimal.

    The model ranges over the pairs some optimal selection takes, those all take required,
    levels 1-3 pinned: a superset of the schedules the breaks level ranges over (`_freedom`).
    On top of the break count it states what every such schedule obeys:

    - balance: every pair joins the two sides of the pair graph, so in each slot as many
      people of one side are busy as of the other;
    - patterns: a person whose pairs are the same in every optimal selection has a known count
      c; its busy set is a c-subset of its slots, with r0 runs at least (r0 - 1 = its floor).
      `e1` says the set is not one of the r0-run ones, `e2` not one with at most r0 + 1 runs;
      its breaks are at least r0 - 1 + e1 + e2.

    The sum of those per-person lower bounds <= target is a relaxation of "breaks <= target"
    (each term is at most the person's breaks), so INFEASIBLE proves target + 1. The exact
    count <= target is stated too, so a solution found is a schedule with at most target.
    """
    n_slots = prep.event.slots
    maybe = freedom.maybe
    sides = _sides(prep, maybe)
    cur = dict(best)
    cur_breaks = _objective(prep, cur).breaks
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    at: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    tables: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    by_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    mine: dict[int, list[int]] = defaultdict(list)
    placed: list[cp_model.LinearExprT] = []
    for i in maybe:
        t = prep.tasks[i]
        row = []
        for s in t.slots:
            v = m.new_bool_var(f"x{i}_{s}")
            x[i, s] = v
            row.append(v)
            at[t.a, s].append(v)
            at[t.b, s].append(v)
            by_slot[s].append(v)
            if t.table is not None:
                tables[t.table, s].append(v)
        if i in freedom.sure:
            m.add_exactly_one(row)
        else:
            m.add_at_most_one(row)
        placed.append(sum(row))
        mine[t.a].append(i)
        mine[t.b].append(i)
    for vs in (*at.values(), *tables.values()):
        if len(vs) > 1:
            m.add_at_most_one(vs)
    for s, vs in by_slot.items():
        if len(vs) > prep.capacity[s - 1]:
            m.add(sum(vs) <= prep.capacity[s - 1])
    sub = replace(
        prep,
        tasks=[prep.tasks[i] for i in maybe],
        task_candidate=[prep.task_candidate[i] for i in maybe],
    )
    exprs = _add_rules(m, sub, placed)
    m.add(exprs["required_missing"] <= values["required_missing"])
    m.add(exprs["shortfall"] <= values["shortfall"])
    m.add(exprs["weight"] >= values["weight"])
    busy_now: dict[int, set[int]] = defaultdict(set)
    for i, s in cur.items():
        busy_now[prep.tasks[i].a].add(s)
        busy_now[prep.tasks[i].b].add(s)
    exact: list[cp_model.LinearExprT] = []
    relaxed: list[cp_model.LinearExprT] = []
    busy: dict[tuple[int, int], cp_model.IntVar] = {}
    for p, items in mine.items():
        usable = sorted({s for i in items for s in prep.tasks[i].slots})
        for s in usable:
            b = m.new_bool_var(f"b{p}_{s}")
            m.add(sum(at[p, s]) == b)
            m.add_hint(b, s in busy_now[p])
            busy[p, s] = b
        fixed = all(i in freedom.sure for i in items)
        count = len(items)
        if fixed:
            # Its pairs are the same in every optimal selection: so is its meeting count.
            m.add(sum(busy[p, s] for s in usable) == count)
        if count <= 1:
            continue
        starts = []
        for s in usable:
            st = m.new_bool_var(f"st{p}_{s}")
            m.add(st >= busy[p, s] - busy.get((p, s - 1), 0))
            m.add_hint(st, s in busy_now[p] and s - 1 not in busy_now[p])
            starts.append(st)
        if freedom.floor[p] >= 1:
            mine_breaks: cp_model.LinearExprT = sum(starts) - 1
        else:
            met = m.new_bool_var(f"met{p}")
            m.add_max_equality(met, [busy[p, s] for s in usable])
            m.add_hint(met, bool(busy_now[p]))
            mine_breaks = sum(starts) - met
        exact.append(mine_breaks)
        if not fixed or count >= len(usable) or math.comb(len(usable), count) > PATTERN_LIMIT:
            relaxed.append(mine_breaks)
            continue
        subsets = [(c, _runs(c)) for c in itertools.combinations(usable, count)]
        r0 = min(r for _, r in subsets)
        e1 = m.new_bool_var(f"e1_{p}")
        e2 = m.new_bool_var(f"e2_{p}")
        now = _runs(sorted(busy_now[p]))
        m.add_hint(e1, now > r0)
        m.add_hint(e2, now > r0 + 1)
        tight: list[cp_model.IntVar] = []
        near: list[cp_model.IntVar] = []
        for c, r in subsets:
            if r > r0 + 1:
                continue
            v = m.new_bool_var(f"pat{p}")
            m.add_hint(v, set(c) == busy_now[p])
            (tight if r == r0 else near).append(v)
            for s in usable:
                m.add_implication(v, busy[p, s] if s in c else busy[p, s].negated())
        m.add_exactly_one([*tight, *near, e2])
        m.add(sum(tight) + e1 == 1)
        m.add_implication(e2, e1)
        m.add(sum(starts) >= r0 + e1 + e2)
        relaxed.append(r0 - 1 + e1 + e2)
    if sides is not None:
        for s in range(1, n_slots + 1):
            left = [v for (p, t), v in busy.items() if t == s and sides[p] == 0]
            right = [v for (p, t), v in busy.items() if t == s and sides[p] == 1]
            m.add(sum(left) == sum(right))
    cap = m.new_int_var(0, cur_breaks, "cap")
    m.add(sum(exact) <= cap)
    m.add(sum(relaxed) <= cap)
    for (i, s), v in x.items():
        m.add_hint(v, cur.get(i) == s)
    found: dict[int, int] | None = None
    while bound < cur_breaks and time.monotonic() < deadline:
        # A small gap: ask for one fewer than the best (refuted: optimal in one solve). A large
        # one: climb from the bound, each refutation raising it by one.
        target = cur_breaks - 1 if cur_breaks - bound <= DESCEND_GAP else bound
        domain = m.proto.variables[cap.index].domain
        domain[0], domain[1] = 0, target
        solver = solver_for(
            time_limit=deadline - time.monotonic(),
            seed=seed,
            # One break above the bound, the question is whether the bound is reached, mostly
            # answered by a schedule (the floors are mostly tight), which one worker alone
            # cannot always find (the Wenzhou demo, for some orders of its participants:
            # nothing in 3 s, two workers 0.15-0.45 s). Otherwise a refutation is the likelier
            # answer, and one worker refutes faster than two on the loaded machine (the bench
            # demo's 6: 0.6-1.0 s against 0.8-1.3 s).
            workers=workers if cur_breaks - bound == 1 else 1,
            deterministic=DETERMINISTIC,
        )
        code = solver.solve(m)
        if code == cp_model.INFEASIBLE:
            bound = target + 1
            continue
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        sl = {i: s for (i, s), v in x.items() if solver.boolean_value(v)}
        if _rank(prep, sl) >= _rank(prep, cur):
            break
        cur, found = sl, sl
        cur_breaks = _objective(prep, cur).breaks
        m.clear_hints()  # type: ignore[no-untyped-call]
        for (i, s), v in x.items():
            m.add_hint(v, cur.get(i) == s)
    return _Proof(bound=bound, slot_of=found)


def _place_all(
    prep: _Prepared,
    keep: Sequence[int],
    *,
    time_limit: float,
    seed: int,
    workers: int,
    hint: dict[int, int],
) -> dict[int, int] | None:
    """A slot for every task in `keep` under the hard rules, or None (refuted or out of time).

    Only the hard rules, no break counting: on 100x300 this answers in about a second where
    the full time-indexed model found nothing in five.
    """
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    groups: dict[tuple[object, ...], list[cp_model.IntVar]] = defaultdict(list)
    by_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for i in keep:
        t = prep.tasks[i]
        row = []
        for s in t.slots:
            v = m.new_bool_var(f"x{i}_{s}")
            x[i, s] = v
            row.append(v)
            groups["person", t.a, s].append(v)
            groups["person", t.b, s].append(v)
            if t.table is not None:
                groups["table", t.table, s].append(v)
            by_slot[s].append(v)
        m.add_exactly_one(row)
    for vs in groups.values():
        if len(vs) > 1:
            m.add_at_most_one(vs)
    for s, vs in by_slot.items():
        if len(vs) > prep.capacity[s - 1]:
            m.add(sum(vs) <= prep.capacity[s - 1])
    for (i, s), v in x.items():
        if i in hint:
            m.add_hint(v, hint[i] == s)
    solver = solver_for(
        time_limit=time_limit, seed=seed, workers=workers, deterministic=DETERMINISTIC
    )
    code = solver.solve(m)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {i: s for (i, s), v in x.items() if solver.boolean_value(v)}


def _greedy(prep: _Prepared) -> dict[int, int]:
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


def _assign_tables(prep: _Prepared, slot_of: dict[int, int]) -> list[Meeting]:
    """Own and locked tables first, then free tables in a stable order, unowned ones first."""
    event = prep.event
    owned = {p.table for p in event.participants if p.table is not None}
    by_slot: dict[int, list[int]] = defaultdict(list)
    for i, s in slot_of.items():
        by_slot[s].append(i)
    out: list[Meeting] = []
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
            out.append(Meeting(slot=s, table=table, a=c.a, b=c.b))
    return sorted(out)


def _explain(prep: _Prepared, slot_of: dict[int, int]) -> list[Unmet]:
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


def _objective(prep: _Prepared, slot_of: dict[int, int]) -> Objective:
    """Recompute every level from the schedule itself, independent of the model."""
    event = prep.event
    count = [0] * len(event.participants)
    busy: dict[int, list[int]] = defaultdict(list)
    for i, s in slot_of.items():
        for p in (prep.tasks[i].a, prep.tasks[i].b):
            count[p] += 1
            busy[p].append(s)
    missing = sum(
        1
        for i, k in enumerate(prep.task_candidate)
        if prep.candidates[k].required and i not in slot_of
    ) + sum(1 for u in prep.unmet if u.kind == "required_pair")
    shortfall = sum(max(0, p.min_meetings - count[k]) for k, p in enumerate(event.participants))
    weight = sum(prep.tasks[i].weight for i in slot_of)
    changes = prep.dropped_previous + sum(
        1 for i, s in prep.previous_slot.items() if slot_of.get(i) != s
    )
    breaks = sum(
        sum(1 for a, b in zip(sorted(v), sorted(v)[1:], strict=False) if b > a + 1)
        for v in busy.values()
    )
    return Objective(missing, shortfall, weight, changes, breaks)


def tail_seconds(time_limit: float, size: int) -> float:
    """Time for the idle-gap levels once the pairs are placed: three seconds on the demo, growing
    with the model, half the limit at most (100x300 at 20 s: 10 s; 300x2000 at 60 s: 30 s).

    The call returns as soon as the breaks are proven (the search stops at the bound), so the
    whole budget is spent only on events it cannot close.
    """
    return max(3.0, min(0.5 * time_limit, size / 2000))


def _flow_path(
    prep: _Prepared,
    flow: tuple[list[int], list[LevelResult], str],
    *,
    exact: bool,
    rebuild: bool,
    deadline: float,
    tail_span: float,
    seed: int,
    workers: int,
    greedy: dict[int, int],
) -> tuple[list[LevelResult], dict[int, int], str, int, int | None] | None:
    """Place the flow's pairs; when all fit, levels 1-3 are proven and the rest is breaks.

    None when the pairs do not all fit in time (the relaxation's counts ignore which slots two
    people share), leaving the answer to the selection model.

    Breaks: a hard-rules placement, then Kempe-chain local search (`kempe.py`); on exact-size
    events the break model over the pairs some optimal selection can take, hinted, then tries
    to improve it and prove a bound. The breaks bound is the larger of the per-person floor and
    that model's bound, both valid over every schedule optimal on the levels above (see
    `_freedom`).
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
        time_limit=(deadline - time.monotonic()) * 0.5,
        seed=seed,
        workers=workers,
        hint=start_hint,
    )
    if placed is None:
        return None
    # The breaks budget starts once the pairs are placed: on 300x2000 the placement alone took
    # 7-10 s of a 15 s budget on the busy machine, leaving the search a quarter of it.
    tail_deadline = min(deadline, time.monotonic() + tail_span)
    freedom = _freedom(prep)
    floor = breaks_floor(prep, freedom) if freedom is not None else 0
    n_people = len(prep.event.participants)

    def search(
        slot_of: dict[int, int], share: float, per_pair: int, attempt: int = 0
    ) -> dict[int, int]:
        """Kempe-chain local search; a move budget keeps the answer repeatable."""
        return improve_breaks(
            prep.tasks,
            n_people=n_people,
            capacity=prep.capacity,
            slot_of=slot_of,
            previous=prep.previous_slot if rebuild else None,
            seed=seed + attempt,
            moves=max(SEARCH_MOVES_MIN, per_pair * len(slot_of)),
            seconds=max(0.05, (tail_deadline - time.monotonic()) * share),
            floor=floor,
        )

    maybe = freedom.maybe if freedom is not None else list(range(len(prep.tasks)))
    sure = freedom.sure if freedom is not None else frozenset()
    bounded = exact and sum(len(prep.tasks[i].slots) for i in maybe) <= BOUND_LIMIT
    # The search is what lowers breaks; the model below mostly proves bounds, so on large
    # events (where it does not run) the search gets nearly all the budget.
    if bounded:
        placed = search(placed, 0.5, SEARCH_MOVES_PER_PAIR_BEFORE_PROOF)
        for attempt in range(1, SEARCH_RESTARTS + 1):
            # Far above the bound the decision model would climb from it and then have to
            # find the schedule (bench demo, seed 2: the search stopped at 8, the model refuted
            # 5 and then found nothing at 7 in its time); another seeded run from the best
            # mostly finds it (7) in a third of a second.
            if _objective(prep, placed).breaks - floor <= DESCEND_GAP:
                break
            placed = search(placed, 0.5, SEARCH_MOVES_PER_PAIR_BEFORE_PROOF, attempt)
    else:
        placed = search(placed, 0.9, SEARCH_MOVES_PER_PAIR)
    got = _objective(prep, placed)
    bound = floor
    # Previous meetings whose pair is no longer a candidate count as changes in every schedule
    # (`_objective` includes them, the models do not): only changes above them are open.
    forced = prep.dropped_previous
    if rebuild and got.changes > forced and not bounded:
        # The break model over the chosen pairs lowers changes, which the search only keeps
        # from growing.
        more, better, _ = _solve_placement(
            prep,
            chosen,
            fairness=None,
            rebuild=rebuild,
            time_limit=(tail_deadline - time.monotonic()) * 0.7,
            seed=seed,
            workers=workers,
            hint=placed,
            only=tail,
            place_all=True,
        )
        if more and _rank(prep, better) < _rank(prep, placed):
            placed = search(better, 1.0, SEARCH_MOVES_PER_PAIR)
    slot_of = placed
    got = _objective(prep, slot_of)
    if bounded and freedom is not None and got.breaks > bound and got.changes <= forced:
        now = time.monotonic()
        proof = _prove_breaks(
            prep,
            freedom,
            values,
            best=slot_of,
            bound=bound,
            # The break model below keeps a share: it proves what the decision model cannot
            # on some events (the Wenzhou demo's inputs vary with the participants' ids).
            deadline=now + PROOF_SHARE * (tail_deadline - now),
            seed=seed,
            # The caller's, for the solves that ask for the bound itself (see there).
            workers=workers,
        )
        bound = proof.bound
        if proof.slot_of is not None:
            slot_of = proof.slot_of
        got = _objective(prep, slot_of)
    full: list[LevelResult] = []
    open_tail = got.breaks > bound or (rebuild and got.changes > forced)
    if bounded and open_tail and time.monotonic() < tail_deadline:
        # The tail over every pair some schedule optimal on levels 1-3 can take, those all
        # take required, levels 1-3 pinned: its bounds hold over all those schedules, and it is
        # far smaller (demo: 162 of 304 pairs) and far stronger (bound 6 in 0.7 s where the
        # model over every candidate proved nothing) than the model over every candidate.
        full, everywhere, _ = _solve_placement(
            prep,
            maybe,
            fairness=None,
            rebuild=rebuild,
            time_limit=tail_deadline - time.monotonic(),
            seed=seed,
            workers=workers,
            hint=slot_of,
            only=tail,
            reached=values,
            core=False,
            must=sure,
        )
        if full and _rank(prep, everywhere) <= _rank(prep, slot_of):
            slot_of = everywhere
        got = _objective(prep, slot_of)
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


def _rank(prep: _Prepared, slot_of: dict[int, int]) -> tuple[int, int, int, int, int]:
    """The lexicographic key of a schedule, smaller is better."""
    o = _objective(prep, slot_of)
    return (o.required_missing, o.shortfall, -o.weight, o.changes, o.breaks)


def _model_path(
    prep: _Prepared,
    *,
    method: str,
    fairness: int | None,
    rebuild: bool,
    time_limit: float,
    deadline: float,
    seed: int,
    workers: int,
    greedy: dict[int, int],
) -> tuple[list[LevelResult], dict[int, int], str, int | None]:
    """Selection by CP-SAT, then placement: when the flow does not apply or its pairs do not fit."""
    everything = list(range(len(prep.tasks)))
    chosen, sel_levels, sel_status = _select(
        prep, rebuild=rebuild, time_limit=time_limit * 0.25, seed=seed, workers=workers
    )
    sel = {lv.name: lv for lv in sel_levels}
    weight_bound = sel["weight"].bound if "weight" in sel else None
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
                time_limit=(deadline - time.monotonic()) * (0.4 if method == "exact" else 1.0),
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
                time_limit=deadline - time.monotonic(),
                seed=seed,
                workers=workers,
                hint=slot_of,
                only=tail if tight else LEVELS,
                reached={k: got[k] for k in head if k in got} if tight else None,
                weight_cap=weight_bound if same_top else None,
            )

            def rank(sl: dict[int, int]) -> tuple[int, int, int, int, int]:
                o = _objective(prep, sl)
                return (o.required_missing, o.shortfall, -o.weight, o.changes, o.breaks)

            if more and rank(full_slot_of) <= rank(slot_of):
                slot_of = full_slot_of
                names = {lv.name for lv in more}
                levels = [lv for lv in levels if lv.name not in names] + more
                status = "optimal" if all(lv.optimal for lv in levels) else "feasible"
    return levels, slot_of, status, weight_bound


def schedule_event(
    *,
    event: Event,
    mode: Mode = "rebuild",
    previous: Sequence[Meeting] = (),
    fairness: int | None = None,
    time_limit: float = 30.0,
    seed: int = 0,
    workers: int = 2,
    method: Literal["auto", "exact", "decomposed"] = "auto",
) -> Schedule:
    """Schedule an event day; `previous` is kept exactly in fill mode, changed little in rebuild."""
    started = time.monotonic()
    prep = _prepare(event, mode=mode, previous=previous)
    rebuild = mode == "rebuild" and bool(previous)
    size = sum(len(t.slots) for t in prep.tasks)
    if method == "auto":
        method = "exact" if size <= EXACT_LIMIT else "decomposed"
    if not prep.tasks:
        method = "exact"
    greedy = _greedy(prep)
    deadline = started + time_limit
    flow = _select_flow(prep, rebuild=rebuild) if fairness is None else None
    quick = None
    if flow is not None:
        quick = _flow_path(
            prep,
            flow,
            exact=method == "exact",
            rebuild=rebuild,
            deadline=deadline,
            tail_span=tail_seconds(time_limit, size),
            seed=seed,
            workers=workers,
            greedy=greedy,
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
            deadline=deadline,
            seed=seed,
            workers=workers,
            greedy=greedy,
        )

    def rank_of(sl: dict[int, int]) -> tuple[int, int, int]:
        o = _objective(prep, sl)
        return (o.required_missing, o.shortfall, -o.weight)

    if levels and greedy and rank_of(greedy) < rank_of(slot_of):
        # A solver cut short can trail the baseline; never answer worse than greedy.
        slot_of, status = greedy, "feasible"
    if status != "infeasible" and not levels and greedy:
        # Out of time before any model answer: the greedy schedule obeys every hard rule.
        levels = [LevelResult("greedy", 0, 0, False, 0.0)]
        slot_of, status = greedy, "feasible"
    if status in ("infeasible", "unknown") or not levels:
        return Schedule(
            status=_status(status),
            meetings=(),
            objective=None,
            weight_bound=weight_bound,
            weight_gap=None,
            unmet=tuple(prep.unmet),
            method=method,
            seconds=time.monotonic() - started,
            breaks_bound=None,
        )
    meetings = _assign_tables(prep, slot_of)
    objective = _objective(prep, slot_of)
    if weight_bound is not None:
        weight_bound = max(weight_bound, objective.weight)
    gap = None
    if weight_bound is not None:
        gap = (weight_bound - objective.weight) / weight_bound if weight_bound else 0.0
    return Schedule(
        status=_status(status),
        meetings=tuple(meetings),
        objective=objective,
        weight_bound=weight_bound,
        weight_gap=gap,
        unmet=tuple(prep.unmet + _explain(prep, slot_of)),
        method=method,
        seconds=time.monotonic() - started,
        breaks_bound=breaks_bound,
    )


def greedy_schedule(*, event: Event) -> Schedule:
    """The baseline: fill slot by slot with the best remaining pair; no optimality claim."""
    started = time.monotonic()
    prep = _prepare(event, mode="rebuild", previous=())
    slot_of = _greedy(prep)
    meetings = _assign_tables(prep, slot_of)
    return Schedule(
        status="feasible",
        meetings=tuple(meetings),
        objective=_objective(prep, slot_of),
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
