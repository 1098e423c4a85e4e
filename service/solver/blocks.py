"""Tiny break budgets for the B2B benchmark: at most one break in the whole schedule.

With no break at all every participant meets in one contiguous block of slots; with one break, all
participants but one do. The block model states that with a start per participant, an interval
of its meeting count on a cumulative resource of 2 x nTables people per slot: the table counting
a SAT solver handles badly. CP-SAT's presolve then refutes "no breaks" on the 12-table crafc
instances in about 0.1 s (the slot model needs about 20 s, the MaxSAT model does not finish),
and refutes "the one break is p's" for most participants p as fast.

The participants left over (12 of 70 on forum-13crafc.original) are the only ones who can hold
the single break; when none is left, two breaks is a bound. The CP-SAT block model does not find
the one-break schedule in a minute, but the MaxSAT model's CNF with at most one break overall
gives CaDiCaL a decision it answers in 7-34 s on the 12-table crafc instances. Allowing the break
to anybody makes it no harder (forum-13crafc.original 9.1 s, ticf-13crafc.forb0003 33.9 s, against
9.4 s and 31.5 s with the candidates alone), so that call starts as soon as zero is refuted, beside
the refutations. Refuted zero plus a one-break schedule is a proof.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import signal
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from ortools.sat.python import cp_model
from pysat.card import CardEnc, EncType  # type: ignore[import-untyped]
from pysat.solvers import Solver  # type: ignore[import-untyped]

from service.solver import breaks as maxsat
from service.solver.dzn import Instance

# Time for one "the break is p's" refutation; refuted ones take 0.1-0.2 s, the rest run out.
PER_PERSON = 0.4
# Above this many allowed break literals "at most one" is a sequential counter, not pairwise.
PAIRWISE_LIMIT = 300
# SAT calls run in forked processes (they cannot be interrupted) where the platform can fork.
FORK = "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True, slots=True)
class BlockOutcome:
    """status: 'optimal' (slots hold the schedule), 'infeasible', or 'unknown' with a bound."""

    status: str
    cost: int | None
    bound: int
    slots: tuple[int, ...]


def block_model(
    instance: Instance, *, breaker: int | None
) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]]:
    """Every participant busy in one block of slots, `breaker` (1-based) in two, or nobody.

    Returns the model and x[m, s] (m 1-based) for the meetings' allowed slots.
    """
    model = cp_model.CpModel()
    n_slots = instance.n_slots
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for m in range(1, instance.n_meetings + 1):
        allowed = instance.allowed_slots(m)
        for s in allowed:
            x[m, s] = model.new_bool_var(f"x{m}_{s}")
        model.add_exactly_one(x[m, s] for s in allowed)
    for s in range(1, n_slots + 1):
        model.add(sum(v for (_, t), v in x.items() if t == s) <= instance.n_tables)
    for j, earlier in enumerate(instance.precedences, start=1):
        for i in earlier:
            for s in instance.allowed_slots(j):
                before = [v for (m, t), v in x.items() if m == i and t < s]
                model.add_bool_or([x[j, s].Not(), *before])

    intervals: list[cp_model.IntervalVar] = []
    for p in range(1, instance.n_business + 1):
        ms = instance.meetings_of(p)
        n = len(ms)
        if not n:
            continue
        busy: list[cp_model.IntVar] = []
        for s in range(1, n_slots + 1):
            u = model.new_bool_var(f"busy{p}_{s}")
            model.add(sum(x[m, s] for m in ms if (m, s) in x) == u)
            busy.append(u)
        if p == breaker and n >= 2:
            intervals.extend(_two_blocks(model, busy, n))
        else:
            intervals.append(_one_block(model, busy, n))
    model.add_cumulative(intervals, [1] * len(intervals), 2 * instance.n_tables)
    return model, x


def _one_block(
    model: cp_model.CpModel, busy: list[cp_model.IntVar], n: int
) -> cp_model.IntervalVar:
    """Busy exactly in [start, start + n), slots 1-based."""
    n_slots = len(busy)
    start = model.new_int_var(1, n_slots - n + 1, "start")
    at = _starts(model, start, n_slots - n + 1)
    for s, u in enumerate(busy, start=1):
        # Busy at s iff the block starts within n slots up to s.
        model.add(sum(at[t] for t in range(max(1, s - n + 1), s + 1) if t in at) == u)
    return model.new_fixed_size_interval_var(start, n, "block")


def _two_blocks(
    model: cp_model.CpModel, busy: list[cp_model.IntVar], n: int
) -> list[cp_model.IntervalVar]:
    """Busy in [a, a + k) and [b, b + n - k) with a gap between them, k in 1..n-1."""
    n_slots = len(busy)
    k = model.new_int_var(1, n - 1, "first")
    a = model.new_int_var(1, n_slots, "a")
    a_end = model.new_int_var(2, n_slots, "a_end")
    b = model.new_int_var(3, n_slots, "b")
    b_end = model.new_int_var(4, n_slots + 1, "b_end")
    model.add(b >= a_end + 1)
    first = model.new_interval_var(a, k, a_end, "first")
    rest = model.new_int_var(1, n - 1, "rest")
    model.add(k + rest == n)
    second = model.new_interval_var(b, rest, b_end, "second")
    for s, u in enumerate(busy, start=1):
        # u = (a <= s < a_end) or (b <= s < b_end), stated with reified halves.
        flags = []
        for lo, hi in ((a, a_end), (b, b_end)):
            inside = model.new_bool_var("")
            model.add(lo <= s).only_enforce_if(inside)
            model.add(hi >= s + 1).only_enforce_if(inside)
            after, before = model.new_bool_var(""), model.new_bool_var("")
            model.add(lo >= s + 1).only_enforce_if(after)
            model.add(hi <= s).only_enforce_if(before)
            model.add_bool_or([inside, after, before])
            flags.append(inside)
        model.add(sum(flags) == u)
    return [first, second]


def _starts(
    model: cp_model.CpModel, start: cp_model.IntVar, last: int
) -> dict[int, cp_model.IntVar]:
    """A boolean per value 1..last of `start`, exactly one true."""
    at = {t: model.new_bool_var(f"at{t}") for t in range(1, last + 1)}
    for t, v in at.items():
        model.add(start == t).only_enforce_if(v)
        model.add(start != t).only_enforce_if(v.Not())
    model.add_exactly_one(list(at.values()))
    return at


def decide(
    instance: Instance, *, breaker: int | None, time_limit: float, workers: int = 2
) -> tuple[str, tuple[int, ...]]:
    """'feasible' with the schedule, 'infeasible' or 'unknown' for the block model."""
    model, x = block_model(instance, breaker=breaker)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = workers
    code = solver.solve(model)
    if code == cp_model.INFEASIBLE:
        return "infeasible", ()
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "unknown", ()
    slots = tuple(
        next(s for s in instance.allowed_slots(m) if solver.boolean_value(x[m, s]))
        for m in range(1, instance.n_meetings + 1)
    )
    return "feasible", slots


def breakers(
    instance: Instance,
    *,
    deadline: float,
    workers: int = 2,
    stop: Callable[[], bool] = lambda: False,
) -> list[int] | None:
    """Participants (1-based) that may hold the only break; None when time ran out first.

    The refutations happen in CP-SAT's presolve, which is single-threaded, so the participants
    are tried `workers` at a time, one CP-SAT worker each (threads: the solve releases the GIL).
    `stop` is asked before each participant: true, the answer is None as if late.
    """
    people = [p for p in range(1, instance.n_business + 1) if len(instance.meetings_of(p)) >= 2]

    def one(p: int) -> str:
        left = deadline - time.monotonic()
        if left <= 0 or stop():
            return "late"
        status, _ = decide(instance, breaker=p, time_limit=min(PER_PERSON, left), workers=1)
        return status

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        verdicts = list(pool.map(one, people))
    if "late" in verdicts:
        return None
    return [p for p, v in zip(people, verdicts, strict=True) if v != "infeasible"]


def one_break_base(instance: Instance, *, d: int | None) -> maxsat.BreakCnf | None:
    """The MaxSAT model's CNF the one-break decisions share; None when it has no schedule.

    Fairness d >= 1 holds by itself under one break in all; the CNF keeps its per-person bound
    when it has one (its clauses helped: 10 s against over 28 s on forum-13crafc.original).
    """
    cnf = maxsat.encode(instance, d=d) or maxsat.encode(instance, d=None)
    assert cnf is not None
    return None if any(not c for c in cnf.hard) else cnf


@dataclass(frozen=True, slots=True)
class OneBreakCnf:
    """The MaxSAT model's CNF as a decision: at most one break, and only a candidate's."""

    hard: list[list[int]]
    base: maxsat.BreakCnf
    n_meetings: int

    def slots(self, model: list[int]) -> tuple[int, ...]:
        """The schedule a satisfying assignment holds, one slot per meeting (1-based)."""
        return self.base.slots_in(model, self.n_meetings)


def one_break_cnf(
    base: maxsat.BreakCnf, n_meetings: int, candidates: Collection[int] | None
) -> OneBreakCnf:
    """The decision's clauses over `base`, the break anybody's when `candidates` is None."""
    hard = list(base.hard)
    allowed: list[int] = []
    for p, lits in base.breaks_of.items():
        if candidates is None or p + 1 in candidates:
            allowed.extend(lits)
        else:
            hard.extend([-h] for h in lits)
    if len(allowed) <= PAIRWISE_LIMIT:
        hard.extend([-u, -v] for u, v in itertools.combinations(allowed, 2))
    else:
        enc = CardEnc.atmost(lits=allowed, bound=1, top_id=base.top, encoding=EncType.seqcounter)
        hard.extend(enc.clauses)
    return OneBreakCnf(hard=hard, base=base, n_meetings=n_meetings)


def _sat_child(hard: list[list[int]], solver: str, conn: Connection, seconds: float) -> None:
    """Solve in a child process and send the model ([] when unsatisfiable).

    SIGALRM with its default action ends the process, also inside the solver's C code: the
    child stops at its deadline even when the parent was killed and could not stop it.
    """
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # not a handler inherited from the parent
    signal.alarm(max(1, math.ceil(seconds)))
    with Solver(name=solver, bootstrap_with=hard) as sat:
        conn.send(sat.get_model() if sat.solve() else [])
    conn.close()


class SatCall:
    """One uninterrupted SAT call in a forked process, started at once; `close` kills it.

    Not sliced: slices of 10,000 conflicts hurt (on forum-13crafc.original one call took 24 s,
    sliced it did not finish in 50 s), and CaDiCaL 1.5.3 ignores PySAT's interrupt (a timer's
    interrupt left one call running for minutes). The child ends itself a second after `deadline`.
    Without fork (not POSIX) nothing starts here: `first_answer` runs the call in slices.
    """

    def __init__(self, cnf: OneBreakCnf, solver: str, *, deadline: float) -> None:
        self.cnf = cnf
        self.solver = solver
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._reader: Connection | None = None
        self._done = False
        self._model: list[int] | None = None
        if FORK:
            ctx = multiprocessing.get_context("fork")
            self._reader, writer = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(
                target=_sat_child,
                args=(cnf.hard, solver, writer, deadline - time.monotonic() + 1.0),
                daemon=True,
            )
            self._proc.start()
            writer.close()

    def answered(self) -> bool:
        """Whether the child has sent its answer (one that died has not)."""
        self._collect()
        return self._model is not None

    def _collect(self) -> None:
        """Take the child's answer if it is there: its model, or None when it died."""
        if self._done or self._reader is None or not self._reader.poll():
            return
        try:
            self._model = list(self._reader.recv())
        except (EOFError, OSError):
            self._model = None
        self._done = True

    @property
    def exitcode(self) -> int | None:
        """The child's exit code once it has ended (negative: the signal that ended it)."""
        if self._proc is None:
            return None
        self._proc.join(timeout=0)
        return self._proc.exitcode

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
        if self._reader is not None:
            self._reader.close()


def first_answer(
    calls: Sequence[SatCall], *, deadline: float
) -> tuple[SatCall, list[int] | None] | None:
    """The first call to answer and its model ([] unsatisfiable, None: the child died); None
    when none answered by the deadline. Without fork, the last call runs here, in slices."""
    forked = [c for c in calls if c._reader is not None]
    if not forked:
        call = calls[-1]
        with Solver(name=call.solver, bootstrap_with=call.cnf.hard) as sat:
            while time.monotonic() < deadline:
                sat.conf_budget(100_000)
                result = sat.solve_limited()
                if result is not None:
                    return call, (list(sat.get_model()) if result else [])
        return None
    while True:
        for call in forked:
            call._collect()
            if call._done:
                return call, call._model
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        wait([c._reader for c in forked if c._reader is not None], timeout=left)
