"""A MaxSAT model of the B2B benchmark, solved core-guided with RC2 (PySAT) and CaDiCaL.

The paper's best approach (Bofill et al., JAIR 74, 2022) is MaxSAT with implied constraints; this
follows it. Booleans x[m, s] place meeting m in slot s and busy[p, s] says participant p meets in
slot s. A break of p *ends* at slot s when p is busy at s, idle at s - 1 and met before: the
clause busy[p, s] & ~busy[p, s-1] & before[p, s-1] -> h[p, s] forces h[p, s] up, and each h is
a soft clause ~h of weight one, so at an optimum the true h are exactly the breaks. A mirror chain
g[p, s] marks where breaks *start* (idle at s + 1, busy later); it costs nothing but lets unit
propagation close a gap from either side.

Fairness over all participants is exact only when the smallest break count is surely zero (some
participant has at most one meeting, as in every published file): then it is "at most d breaks
each", an at-most-d over h and over g. Otherwise `encode` returns None and the caller uses the
CP-SAT model.

Implied constraints (the part the paper found decisive, and measured here: a zero-break decision
that took CaDiCaL 40 s or more takes 1 to 20 s with them): each participant is busy in exactly
as many slots as it has meetings; at least as many morning (afternoon) slots as it has meetings
that can only sit in the morning (afternoon), and at most the rest. The tables are counted on
the busy booleans (2 x nTables people per slot), which is exact.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from pysat.card import CardEnc, EncType, ITotalizer  # type: ignore[import-untyped]
from pysat.examples.rc2 import RC2  # type: ignore[import-untyped]
from pysat.formula import WCNF  # type: ignore[import-untyped]
from pysat.solvers import Solver  # type: ignore[import-untyped]

from service.solver.dzn import Instance

# CaDiCaL 1.9.5 behind RC2: on the zero-break decisions it beat Glucose 3 by a wide margin.
SAT_SOLVER = "cadical195"
# The two cores race core-guided RC2 (bounds from below) against a linear search from above
# (SAT calls with "fewer breaks than the last schedule"): RC2 often proves the optimum as a bound
# early but then cannot find the schedule (forum-13crafb.original: bound 5 in 1 s, stuck there),
# which the descent reaches (6, proven, in 35 s). Either's schedule meeting the other's bound is
# an optimum. CaDiCaL 1.5.3 for both: RC2 over it took 17 s and 5 s where 1.9.5 took over 45 s
# and 13 s (forum-13crafb.forb0003, forum-14.forb0003; single runs, the times are heavy-tailed).
PORTFOLIO = (("rc2", "cadical153"), ("descent", "cadical153"))
# Conflicts per slice of a SAT call; the clock is read between slices.
CHUNK = 10_000


@dataclass(slots=True)
class BreakCnf:
    """Hard clauses, the soft break literals (each true one costs 1) and the placement booleans."""

    hard: list[list[int]] = field(default_factory=list)
    soft: list[int] = field(default_factory=list)
    x: dict[tuple[int, int], int] = field(default_factory=dict)
    busy: dict[tuple[int, int], int] = field(default_factory=dict)
    # The soft break literals of each participant (0-based).
    breaks_of: dict[int, list[int]] = field(default_factory=dict)
    top: int = 0

    def slots_in(self, model: Sequence[int], n_meetings: int) -> tuple[int, ...]:
        """The schedule a satisfying assignment holds, one slot per meeting (1-based slots)."""
        true = {v for v in model if v > 0}
        slot_of = {m: s for (m, s), v in self.x.items() if v in true}
        return tuple(slot_of[m] for m in range(n_meetings))

    def new(self) -> int:
        """A fresh variable."""
        self.top += 1
        return self.top

    def at_most(self, lits: Sequence[int], bound: int, enc: int = EncType.seqcounter) -> None:
        """At most `bound` of the literals are true (nothing when that always holds)."""
        if bound >= len(lits):
            return
        if bound <= 0:
            self.hard.extend([-v] for v in lits)
            return
        if bound == 1:
            self.hard.extend([-u, -v] for u, v in itertools.combinations(lits, 2))
            return
        encd = CardEnc.atmost(lits=list(lits), bound=bound, top_id=self.top, encoding=enc)
        self.top = max(self.top, encd.nv)
        self.hard.extend(encd.clauses)

    def at_least(self, lits: Sequence[int], bound: int) -> None:
        """At least `bound` of the literals are true (an empty clause when that cannot be)."""
        if bound <= 0:
            return
        if bound > len(lits):
            self.hard.append([])
            return
        if bound == len(lits):
            self.hard.extend([v] for v in lits)
            return
        if bound == 1:
            self.hard.append(list(lits))
            return
        enc = CardEnc.atleast(
            lits=list(lits), bound=bound, top_id=self.top, encoding=EncType.seqcounter
        )
        self.top = max(self.top, enc.nv)
        self.hard.extend(enc.clauses)


def fairness_is_per_person(instance: Instance) -> bool:
    """Whether somebody surely has zero breaks (at most one meeting), pinning the minimum at 0."""
    count = [0] * instance.n_business
    for a, b, _ in instance.requested:
        count[a - 1] += 1
        count[b - 1] += 1
    return min(count, default=0) <= 1


def encode(instance: Instance, *, d: int | None) -> BreakCnf | None:
    """The CNF with soft breaks, or None when fairness is not a per-person bound."""
    if d is not None and not fairness_is_per_person(instance):
        return None
    cnf = BreakCnf()
    n_slots, morning = instance.n_slots, instance.n_morning
    mine: list[list[int]] = [[] for _ in range(instance.n_business)]
    allowed: list[list[int]] = []
    for m, (a, b, _) in enumerate(instance.requested):
        mine[a - 1].append(m)
        mine[b - 1].append(m)
        slots = instance.allowed_slots(m + 1)
        allowed.append(slots)
        row = []
        for s in slots:
            v = cnf.new()
            cnf.x[m, s] = v
            row.append(v)
        cnf.hard.append(row)  # empty when the meeting has no slot: infeasible
        cnf.at_most(row, 1)

    for j, earlier in enumerate(instance.precedences):
        for i in earlier:
            for s in allowed[j]:
                before = [cnf.x[i - 1, t] for t in allowed[i - 1] if t < s]
                cnf.hard.append([-cnf.x[j, s], *before])

    busy = cnf.busy
    for p, ms in enumerate(mine):
        for s in range(1, n_slots + 1):
            vs = [cnf.x[m, s] for m in ms if (m, s) in cnf.x]
            if not vs:
                continue
            u = cnf.new()
            busy[p, s] = u
            cnf.hard.extend([-v, u] for v in vs)
            cnf.hard.append([-u, *vs])
            cnf.at_most(vs, 1)

    # The tables: a meeting occupies two people in its slot, so at most 2 x nTables people are
    # busy in it. Stated on the busy booleans instead of the meetings' it is exact and half the
    # size (78 people instead of 302 meetings per slot on forum-14), which halved the solve time
    # there; the k-modulo totalizer was the fastest of the cardinality encodings tried.
    for s in range(1, n_slots + 1):
        cnf.at_most(
            [busy[p, s] for p in range(instance.n_business) if (p, s) in busy],
            2 * instance.n_tables,
            enc=EncType.kmtotalizer,
        )

    for p, ms in enumerate(mine):
        k = len(ms)
        if not k:
            continue
        row = [busy[p, s] for s in range(1, n_slots + 1) if (p, s) in busy]
        # Implied: busy in exactly k slots, and enough of them in each session.
        cnf.at_most(row, k)
        cnf.at_least(row, k)
        only_am = sum(1 for m in ms if max(allowed[m], default=0) <= morning)
        only_pm = sum(1 for m in ms if min(allowed[m], default=n_slots + 1) > morning)
        am = [busy[p, s] for s in range(1, morning + 1) if (p, s) in busy]
        pm = [busy[p, s] for s in range(morning + 1, n_slots + 1) if (p, s) in busy]
        if 0 < morning < n_slots:
            cnf.at_least(am, only_am)
            cnf.at_least(pm, only_pm)
            cnf.at_most(am, k - only_pm)
            cnf.at_most(pm, k - only_am)
        if k < 2:
            continue
        h = gap_ends(cnf, [busy.get((p, s)) for s in range(1, n_slots + 1)])
        g = gap_ends(cnf, [busy.get((p, s)) for s in range(n_slots, 0, -1)])
        if d is not None:
            cnf.at_most(h, d)
            cnf.at_most(g, d)
        cnf.soft.extend(h)
        cnf.breaks_of[p] = h
    return cnf


def gap_ends(cnf: BreakCnf, busy: Sequence[int | None]) -> list[int]:
    """Booleans forced up where a gap ends, slots in this order (busy, idle before, met before)."""
    out: list[int] = []
    before: int | None = None
    prev: int | None = None
    for u in busy:
        if u is not None and before is not None:
            h = cnf.new()
            clause = [-u, -before, h]
            if prev is not None:
                clause.append(prev)
            cnf.hard.append(clause)
            out.append(h)
        if u is not None:
            # `before`: met somewhere up to here (only forced up, which is all `h` needs).
            nxt = cnf.new()
            cnf.hard.append([-u, nxt])
            if before is not None:
                cnf.hard.append([-before, nxt])
            before = nxt
        prev = u
    return out


@dataclass(frozen=True, slots=True)
class MaxsatOutcome:
    """'optimal' or 'feasible' with a slot per meeting and its cost, 'infeasible', or 'unknown'.

    `bound` is a proven lower bound on the cost; `cost` counts true break literals, an upper bound
    on the schedule's breaks (equal to them when optimal).
    """

    status: str
    cost: int | None
    bound: int
    slots: tuple[int, ...]


class _OutOfTime(Exception):
    """The deadline passed during the MaxSAT search."""


class _TimedRc2(RC2):  # type: ignore[misc]
    """RC2 whose SAT calls stop at a deadline, recording the bound it has proven so far.

    PySAT's CaDiCaL cannot be interrupted, so every call runs in slices of CHUNK conflicts (the
    solver keeps what it learnt between slices) and the clock is read between them. Past the
    deadline a call raises instead of answering: RC2's core exhaustion would read an unfinished
    call as 'unsatisfiable' and overstate the cost. The bound is read only between cores, where
    it is a proof.
    """

    def __init__(
        self,
        formula: WCNF,
        deadline: float,
        solver: str = SAT_SOLVER,
        on_bound: Callable[[int], None] | None = None,
        on_model: Callable[[list[int]], None] | None = None,
    ) -> None:
        super().__init__(formula, solver=solver, adapt=True, exhaust=True, minz=True)
        self.deadline = deadline
        self.proven = 0
        self.budgeted = False
        self.on_bound = on_bound
        self.on_model = on_model

    def _call_oracle(
        self, assumptions: Sequence[int] = (), expect_interrupt: bool = False
    ) -> bool | None:
        if self.budgeted:
            # Core minimisation sets its own small conflict budget and expects None when spent.
            if time.monotonic() >= self.deadline:
                raise _OutOfTime
            small: bool | None = self.oracle.solve_limited(assumptions=list(assumptions))
            if small:
                self._harvest()
            return small
        while True:
            if time.monotonic() >= self.deadline:
                raise _OutOfTime
            self.oracle.conf_budget(CHUNK)
            result: bool | None = self.oracle.solve_limited(assumptions=list(assumptions))
            if result:
                self._harvest()
            if result is not None:
                return result

    def _harvest(self) -> None:
        """Every satisfying assignment of the hard clauses is a valid schedule: offer it.

        RC2 itself only returns the final optimum, but its core minimisation and exhaustion
        calls keep finding schedules on the way, often near the optimum.
        """
        if self.on_model is not None:
            self.on_model(self.oracle.get_model())

    def minimize_core(self) -> None:
        self.budgeted = True
        try:
            super().minimize_core()
        finally:
            self.budgeted = False

    def process_core(self) -> None:
        super().process_core()
        self.proven = int(self.cost)
        if self.on_bound is not None:
            self.on_bound(self.proven)


def solve_cnf(
    cnf: BreakCnf,
    *,
    n_meetings: int,
    time_limit: float,
    solver: str = SAT_SOLVER,
    on_bound: Callable[[int], None] | None = None,
    on_incumbent: Callable[[int, tuple[int, ...]], None] | None = None,
) -> MaxsatOutcome:
    """Minimise the true soft literals within the time limit.

    Out of time, the answer is the best schedule met on the way ('feasible'; 'optimal' when its
    cost meets the proven bound) or 'unknown' with the bound alone.
    """
    if any(not c for c in cnf.hard):
        return MaxsatOutcome("infeasible", None, 0, ())
    formula = WCNF()
    formula.extend(cnf.hard)
    formula.extend([[-h] for h in cnf.soft], weights=[1] * len(cnf.soft))
    best: list[tuple[int, tuple[int, ...]]] = []

    def decode(model: list[int]) -> tuple[int, tuple[int, ...]]:
        true = {v for v in model if v > 0}
        return sum(1 for h in cnf.soft if h in true), cnf.slots_in(model, n_meetings)

    def offer(model: list[int]) -> None:
        cost, slots = decode(model)
        if not best or cost < best[0][0]:
            best[:] = [(cost, slots)]
            if on_incumbent is not None:
                on_incumbent(cost, slots)

    rc2 = _TimedRc2(formula, time.monotonic() + time_limit, solver, on_bound, offer)
    try:
        model = rc2.compute()
    except _OutOfTime:
        if not best:
            return MaxsatOutcome("unknown", None, rc2.proven, ())
        cost, slots = best[0]
        status = "optimal" if cost <= rc2.proven else "feasible"
        return MaxsatOutcome(status, cost, rc2.proven, slots)
    finally:
        rc2.delete()
    if model is None:
        # compute() returns None for an unsatisfiable hard part only (the deadline raises above).
        return MaxsatOutcome("infeasible", None, 0, ())
    cost, slots = decode(model)
    return MaxsatOutcome("optimal", cost, cost, slots)


def solve_descent(
    cnf: BreakCnf,
    *,
    n_meetings: int,
    time_limit: float,
    solver: str,
    on_bound: Callable[[int], None] | None = None,
    on_incumbent: Callable[[int, tuple[int, ...]], None] | None = None,
) -> MaxsatOutcome:
    """Linear search from above: each schedule found must be beaten by the next SAT call.

    A totalizer over the break literals turns "fewer than c" into one assumption; the call that
    finds none proves c optimal. Calls run in CHUNK-conflict slices against the deadline.
    """
    if any(not c for c in cnf.hard):
        return MaxsatOutcome("infeasible", None, 0, ())
    deadline = time.monotonic() + time_limit
    best: tuple[int, tuple[int, ...]] | None = None
    with Solver(name=solver, bootstrap_with=cnf.hard) as sat:
        tot: ITotalizer | None = None
        assumptions: list[int] = []
        while time.monotonic() < deadline:
            sat.conf_budget(CHUNK)
            result = sat.solve_limited(assumptions=assumptions)
            if result is None:
                continue
            if not result:
                if best is None:
                    return MaxsatOutcome("infeasible", None, 0, ())
                if on_bound is not None:
                    on_bound(best[0])
                return MaxsatOutcome("optimal", best[0], best[0], best[1])
            model = sat.get_model()
            true = {v for v in model if v > 0}
            cost = sum(1 for h in cnf.soft if h in true)
            best = (cost, cnf.slots_in(model, n_meetings))
            if on_incumbent is not None:
                on_incumbent(*best)
            if cost == 0:
                return MaxsatOutcome("optimal", 0, 0, best[1])
            if tot is None:
                tot = ITotalizer(lits=cnf.soft, ubound=cost, top_id=cnf.top)
                sat.append_formula(tot.cnf.clauses)
            assumptions = [-tot.rhs[cost - 1]]
    if best is None:
        return MaxsatOutcome("unknown", None, 0, ())
    return MaxsatOutcome("feasible", best[0], 0, best[1])


def _race_worker(
    cnf: BreakCnf,
    n_meetings: int,
    time_limit: float,
    racer: tuple[str, str],
    conn: Connection,
) -> None:
    """One racer: send each proven bound and better schedule, then the outcome."""
    method, solver = racer
    run = solve_cnf if method == "rc2" else solve_descent
    out = run(
        cnf,
        n_meetings=n_meetings,
        time_limit=time_limit,
        solver=solver,
        on_bound=lambda b: conn.send(("bound", b)),
        on_incumbent=lambda c, slots: conn.send(("incumbent", (c, slots))),
    )
    conn.send(("done", out))
    conn.close()


def solve_race(
    cnf: BreakCnf,
    *,
    n_meetings: int,
    time_limit: float,
    racers: Sequence[tuple[str, str]],
) -> MaxsatOutcome:
    """Run each (method, SAT solver) racer in its own forked process; the first proof wins.

    A schedule from one racer whose cost meets another's proven bound is a proof too.
    Unfinished, the answer is the best schedule ('feasible') or 'unknown', with the best bound.
    """
    if len(racers) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return solve_cnf(cnf, n_meetings=n_meetings, time_limit=time_limit, solver=racers[0][1])
    ctx = multiprocessing.get_context("fork")
    deadline = time.monotonic() + time_limit
    readers: list[Connection] = []
    procs = []
    for racer in racers:
        r, w = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_race_worker, args=(cnf, n_meetings, time_limit, racer, w), daemon=True
        )
        proc.start()
        w.close()
        readers.append(r)
        procs.append(proc)
    bound = 0
    best: tuple[int, tuple[int, ...]] | None = None
    try:
        # Racers stop themselves at the deadline (to within a slice of conflicts); the grace
        # second covers that, after which they are killed.
        while readers and time.monotonic() < deadline + 1.0:
            ready = wait(readers, timeout=max(deadline + 1.0 - time.monotonic(), 0.0))
            for conn in ready:
                assert isinstance(conn, Connection)
                try:
                    kind, value = conn.recv()
                except EOFError:
                    readers.remove(conn)
                    continue
                if kind == "bound":
                    bound = max(bound, int(value))
                elif kind == "incumbent":
                    if best is None or value[0] < best[0]:
                        best = value
                else:
                    readers.remove(conn)
                    if value.status in ("optimal", "infeasible"):
                        return value  # type: ignore[no-any-return]
                    bound = max(bound, value.bound)
                    if value.cost is not None and (best is None or value.cost < best[0]):
                        best = (value.cost, value.slots)
                if best is not None and best[0] <= bound:
                    # One racer's schedule meets another's bound: proven optimal.
                    return MaxsatOutcome("optimal", best[0], bound, best[1])
    finally:
        for proc in procs:
            proc.kill()
            proc.join()
        for r in readers:
            r.close()
    if best is not None:
        return MaxsatOutcome("feasible", best[0], bound, best[1])
    return MaxsatOutcome("unknown", None, bound, ())


def solve_instance(
    instance: Instance, *, d: int | None, time_limit: float, workers: int = 2
) -> MaxsatOutcome | None:
    """Encode and solve; None when the instance needs the general (CP-SAT) fairness model."""
    started = time.monotonic()
    cnf = encode(instance, d=d)
    if cnf is None:
        return None
    return solve_race(
        cnf,
        n_meetings=instance.n_meetings,
        time_limit=time_limit - (time.monotonic() - started),
        racers=PORTFOLIO[: max(workers, 1)],
    )
