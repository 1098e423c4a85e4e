"""The break decision model: over the pairs some optimal selection can take, SAT decisions
"breaks <= target" raise the breaks bound or find a schedule at it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pysat.card import CardEnc, EncType, ITotalizer  # type: ignore[import-untyped]
from pysat.solvers import Solver  # type: ignore[import-untyped]

from service.solver.breaks import CHUNK, BreakCnf, gap_ends
from service.solver.clock import CONFLICT_SECONDS, PROPAGATION_SECONDS, WorkClock
from service.solver.prepared import Prepared, objective_of, rank
from service.solver.selection import Freedom, most_meetings, sides_of
from service.solver.slotting import Seats

# CaDiCaL 1.5.3, as in the benchmark's MaxSAT race: over the 16 demo-size events of bench
# seeds 1-30 that reach the model it settled all in 4.8-5.0 s together (the longest, seed 27,
# 1.75-1.89 s); CaDiCaL 1.9.5 took 5.0 s, Glucose 4.1 5.5 s, MiniSat 2.2 5.8 s.
SAT_SOLVER = "cadical153"
# Up to this many free pairs (taken by some optimal selection, not all), the optimal selections
# among them are listed and the model ranges over exactly those; above, over a superset.
FREE_LIMIT = 12
# Up to this gap between the best schedule and the bound, the decision model asks for one
# fewer than the best; above it, it climbs from the bound.
DESCEND_GAP = 2
# The balance of the two sides per slot as one cardinality equality. Measured on Glucose 4.1
# over those 16 events: totalizers 5.4-6.2 s together (at most 2.1 s), sequential counters
# 7.5 s (at most 3.7 s); cardinality networks took 2.5 s on seed 7 alone (totalizers 0.6-1.0 s).
BALANCE_ENC = EncType.totalizer


@dataclass(slots=True)
class Proof:
    """What the break decision model settled: a proven bound, maybe a better schedule."""

    bound: int
    slot_of: dict[int, int] | None


def optimal_selections(
    prep: Prepared, freedom: Freedom, values: dict[str, int]
) -> list[frozenset[int]] | None:
    """The sets of free pairs that, with the sure ones, are optimal on levels 1-3 (None when
    there are more than `FREE_LIMIT` free pairs to try).

    Exactly the selections of the flow relaxation optimal on its levels (`values`): nobody over
    its most meetings or the slots its pairs can use, no more pairs than the day's capacity,
    required pairs missing, shortfall and weight no worse.
    """
    free = sorted(set(freedom.maybe) - freedom.sure)
    if len(free) > FREE_LIMIT:
        return None
    people = prep.event.participants
    cap = most_meetings(prep)
    room = sum(prep.capacity) - len(freedom.sure)
    count = [0] * len(people)
    weight = 0
    for i in freedom.sure:
        count[prep.tasks[i].a] += 1
        count[prep.tasks[i].b] += 1
        weight += prep.tasks[i].weight
    touched = {p for i in free for p in (prep.tasks[i].a, prep.tasks[i].b)}
    short_rest = sum(
        max(0, part.min_meetings - count[p]) for p, part in enumerate(people) if p not in touched
    )
    # Required pairs outside every optimal selection are missing from all of them.
    required = {i for i, k in enumerate(prep.task_candidate) if prep.candidates[k].required}
    missing_rest = len(required - set(freedom.maybe))
    required &= set(free)
    out = []
    for take in itertools.product((False, True), repeat=len(free)):
        chosen = [i for i, t in zip(free, take, strict=True) if t]
        if len(chosen) > room:
            continue
        mine = {p: count[p] for p in touched}
        for i in chosen:
            mine[prep.tasks[i].a] += 1
            mine[prep.tasks[i].b] += 1
        if any(c > cap[p] for p, c in mine.items()):
            continue
        shortfall = short_rest + sum(max(0, people[p].min_meetings - c) for p, c in mine.items())
        if (
            missing_rest + len(required - set(chosen)) <= values["required_missing"]
            and shortfall <= values["shortfall"]
            and weight + sum(prep.tasks[i].weight for i in chosen) >= values["weight"]
        ):
            out.append(frozenset(chosen))
    return out


@dataclass(slots=True)
class _Decision:
    """The CNF of the decision model and the outputs of the totalizer over its break literals
    (`more[k]` true when more than k breaks are)."""

    cnf: BreakCnf
    more: list[int]


def _encode(prep: Prepared, freedom: Freedom, values: dict[str, int], most: int) -> _Decision:
    """Schedules of the pairs some optimal selection takes, those all take placed, levels 1-3
    at their optimum (over a superset of the selections when they are too many to list).

    Booleans x[i, s] seat pair i in slot s under the placement's hard rules; busy[p, s] and
    the break-end literals of `gap_ends`, forced up where a gap ends, are counted by a
    totalizer up to `most`. Implied, and decisive: every pair joins the two sides of the
    pair graph, so in each slot as many people of one side are busy as of the other (the
    demo's "at most 6": refuted in 0.07 s with it, still open after 10 minutes without); a
    person whose pairs are all sure is busy in exactly as many slots as it has pairs.
    """
    cnf = BreakCnf()
    n_slots = prep.event.slots
    seats: Seats[int] = Seats(x=cnf.x)
    placed: dict[int, int] = {}
    for i, row in seats.add(prep.tasks, freedom.maybe, lambda i, s: cnf.new()):
        cnf.at_most(row, 1)
        if i in freedom.sure:
            cnf.hard.append(row)
        else:
            placed[i] = v = cnf.new()
            cnf.hard.append([-v, *row])
            cnf.hard.extend([-u, v] for u in row)
    at = seats.at
    for vs in seats.tables.values():
        cnf.at_most(vs, 1)
    for s, vs in seats.by_slot.items():
        cnf.at_most(vs, prep.capacity[s - 1], enc=EncType.kmtotalizer)

    # Empty only if the flow's levels and this arithmetic disagreed: the superset then.
    selections = optimal_selections(prep, freedom, values) or None
    if selections is not None:
        picks = [cnf.new() for _ in selections]
        # At least one; two cannot hold at once, since each fixes every placed literal.
        cnf.hard.append(picks)
        for pick, chosen in zip(picks, selections, strict=True):
            cnf.hard.extend([-pick, v if i in chosen else -v] for i, v in placed.items())
    people = prep.event.participants
    breaks: list[int] = []
    for p, items in seats.tasks_of.items():
        day: list[int | None] = []
        for s in range(1, n_slots + 1):
            vs = at.get((p, s), [])
            if not vs:
                day.append(None)
                continue
            u = cnf.new()
            cnf.busy[p, s] = u
            cnf.hard.extend([-v, u] for v in vs)
            cnf.hard.append([-u, *vs])
            cnf.at_most(vs, 1)
            day.append(u)
        busy = [u for u in day if u is not None]
        if all(i in freedom.sure for i in items):
            cnf.at_most(busy, len(items))
            cnf.at_least(busy, len(items))
        elif selections is None:
            # Over the superset: the hard rule on counts, and what every optimal selection meets.
            most_p = people[p].max_meetings
            if most_p is not None:
                cnf.at_most(busy, most_p)
            cnf.at_least(busy, freedom.floor[p])
        if len(items) > 1:
            breaks.extend(gap_ends(cnf, day))

    sides = sides_of(prep, freedom.maybe)
    if sides is not None:
        for s in range(1, n_slots + 1):
            left = [u for (p, t), u in cnf.busy.items() if t == s and sides[p] == 0]
            right = [u for (p, t), u in cnf.busy.items() if t == s and sides[p] == 1]
            _same_count(cnf, left, right)
    with ITotalizer(lits=breaks, ubound=most, top_id=cnf.top) as total:
        cnf.top = max(cnf.top, total.top_id)
        cnf.hard.extend(total.cnf.clauses)
        more = list(total.rhs)
    return _Decision(cnf=cnf, more=more)


def _same_count(cnf: BreakCnf, left: Sequence[int], right: Sequence[int]) -> None:
    """As many of `left` are true as of `right`: sum(left) + sum(not right) = len(right)."""
    lits = [*left, *(-u for u in right)]
    if not lits:
        return
    enc = CardEnc.equals(lits=lits, bound=len(right), top_id=cnf.top, encoding=BALANCE_ENC)
    cnf.top = max(cnf.top, enc.nv)
    cnf.hard.extend(enc.clauses)


# The fewest conflicts a slice of a SAT call is given.
MIN_SLICE = 100


def _decide(sat: Solver, assumptions: list[int], clock: WorkClock, deadline: float) -> bool | None:
    """One SAT call in slices of at most `CHUNK` conflicts, each slice's propagations charged
    to the clock (None: the budget is spent, or the wall-clock guard ended it). The last slices
    are sized to the work left at the dearest conflict measured, `MIN_SLICE` at least, so the
    call ends near its deadline in a few calls."""
    while clock.now() < deadline and clock.within_guard():
        left = math.ceil((deadline - clock.now()) / CONFLICT_SECONDS)
        before = sat.accum_stats()["propagations"]
        sat.conf_budget(min(CHUNK, max(left, MIN_SLICE)))
        result: bool | None = sat.solve_limited(assumptions=assumptions)
        clock.charge((sat.accum_stats()["propagations"] - before) * PROPAGATION_SECONDS)
        if result is not None:
            return result
    return None


def prove_breaks(
    prep: Prepared,
    freedom: Freedom,
    values: dict[str, int],
    *,
    best: dict[int, int],
    bound: int,
    clock: WorkClock,
    deadline: float,
) -> Proof:
    """Raise the breaks bound over every schedule optimal on levels 1-3, or find one at it.

    With a gap of at most `DESCEND_GAP`, decisions ask for one break fewer than the best
    (refuted: the best is optimal; satisfied: a better schedule, ask again); with a larger
    one they climb from the bound (refuted: the bound rises by one; satisfied: a schedule at
    the bound, optimal). The model ranges over the pairs some optimal selection takes, those
    all take required, levels 1-3 at their optimum: a superset of the schedules the breaks
    level ranges over (`freedom_of`), so a refutation is a proof. A schedule it finds is
    kept only when it ranks better than the best; otherwise the decisions end there (over the
    superset a schedule worse on levels 1-3 could come up: never seen on 1,412 small random
    events and 16 demo-size ones).
    `deadline` is on the run's work `clock`, which the SAT calls are charged to.
    """
    cur = dict(best)
    cur_breaks = objective_of(prep, cur).breaks
    if bound >= cur_breaks or clock.now() >= deadline:
        return Proof(bound=bound, slot_of=None)
    model = _encode(prep, freedom, values, cur_breaks)
    found: dict[int, int] | None = None
    with Solver(name=SAT_SOLVER, bootstrap_with=model.cnf.hard) as sat:
        while bound < cur_breaks:
            target = cur_breaks - 1 if cur_breaks - bound <= DESCEND_GAP else bound
            at_most = [-model.more[target]] if target < len(model.more) else []
            answer = _decide(sat, at_most, clock, deadline)
            if answer is None:
                break
            if not answer:
                bound = target + 1
                continue
            true = {v for v in sat.get_model() if v > 0}
            sl = {i: s for (i, s), v in model.cnf.x.items() if v in true}
            if rank(prep, sl) >= rank(prep, cur):
                break
            cur, found = sl, sl
            cur_breaks = objective_of(prep, cur).breaks
    return Proof(bound=bound, slot_of=found)
