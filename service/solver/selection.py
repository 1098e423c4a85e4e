"""The selection relaxation as a min-cost flow over the pairs: bounds levels 1-3 in
milliseconds, and from its optimal face, what every selection optimal on levels 1-3 shares."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.graph.python import min_cost_flow

from service.solver.prepared import Prepared
from service.solver.slotting import LevelResult


def sides_of(prep: Prepared, free: Sequence[int]) -> list[int] | None:
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


def select_flow(
    prep: Prepared, *, rebuild: bool
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


def most_meetings(prep: Prepared) -> list[int]:
    """Per person, the most meetings the relaxation allows: its max_meetings, and no more than
    the slots its tasks can use."""
    usable: list[set[int]] = [set() for _ in prep.event.participants]
    for t in prep.tasks:
        usable[t.a] |= set(t.slots)
        usable[t.b] |= set(t.slots)
    return [
        min(len(usable[p]), part.max_meetings if part.max_meetings is not None else len(usable[p]))
        for p, part in enumerate(prep.event.participants)
    ]


def _flow_network(
    prep: Prepared, *, rebuild: bool
) -> tuple[list[int], list[LevelResult], _Network] | None:
    """Build and solve the selection flow (see `select_flow`); the network comes back too."""
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
    side = sides_of(prep, free)
    if side is None:
        return None
    n = len(event.participants)
    held = [0] * n
    for t in prep.tasks:
        if t.required:
            held[t.a] += 1
            held[t.b] += 1
    cap = [most - held[p] for p, most in enumerate(most_meetings(prep))]
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
class Freedom:
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


def freedom_of(prep: Prepared) -> Freedom | None:
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
    return Freedom(
        unique=unique, floor=floor, usable=usable, maybe=possible, sure=frozenset(certain)
    )
