"""The at-floor model: a schedule of the chosen pairs with everyone at their own breaks floor,
each busy set one of the few the floor allows, solved in a background thread beside the search."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence

from ortools.sat.python import cp_model

from service.solver.clock import WorkClock, cp_sat_work
from service.solver.floors import MATCH_SETS_LIMIT, busy_sets, seats
from service.solver.prepared import Prepared, add_seating
from service.solver.selection import sides_of
from service.solver.slotting import solver_for

log = logging.getLogger(__name__)


def at_floor_model(
    prep: Prepared, keep: Sequence[int], floors: Sequence[int], *, hint: dict[int, int]
) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]] | None:
    """Every pair of `keep` in a slot under the hard rules, each person at its floor; None when
    someone has no busy set at its floor that its pairs can be seated in (its count here may
    be above the one its floor assumed).

    A person with c meetings here and floor f is busy in c slots forming exactly f + 1 runs:
    one of the c-subsets of its usable slots with f + 1 runs in which its pairs can each take
    a slot of their own (`seats`), stated as a table. Stated as "at most f + 1 starts" instead,
    100x300 found nothing in 20 s; as tables, 11-34 s (one worker). In each slot as many people
    of one side are busy as of the other when the pair graph is bipartite (a pair joins the two
    sides): 11-13 s against 15-17 s without.
    """
    m = cp_model.CpModel()
    seating = add_seating(m, prep, keep, hint=hint)
    at, mine = seating.at, seating.tasks_of
    for p, items in mine.items():
        if len(items) <= 1:
            continue
        usable = sorted({s for i in items for s in prep.tasks[i].slots})
        sets = busy_sets(usable, len(items), floors[p] + 1, limit=MATCH_SETS_LIMIT)
        if len(sets) > MATCH_SETS_LIMIT:
            # Too many to list: at most f + 1 runs, counted on run starts.
            busy = [sum(at[p, s]) for s in usable]
            starts = []
            for k, s in enumerate(usable):
                st = m.new_bool_var(f"st{p}_{s}")
                before = busy[k - 1] if k and usable[k - 1] == s - 1 else 0
                m.add(st >= busy[k] - before)
                starts.append(st)
            m.add(sum(starts) <= floors[p] + 1)
            continue
        pair_slots = [prep.tasks[i].slots for i in items]
        sets = [b for b in sets if seats(pair_slots, b)]
        if not sets:
            return None
        flags = []
        for s in usable:
            b = m.new_bool_var(f"b{p}_{s}")
            m.add(sum(at[p, s]) == b)
            flags.append(b)
        m.add_allowed_assignments(flags, [[int(s in chosen) for s in usable] for chosen in sets])
    sides = sides_of(prep, keep)
    if sides is not None:
        for s in range(1, prep.event.slots + 1):
            left = [v for p in mine if sides[p] == 0 for v in at[p, s]]
            right = [v for p in mine if sides[p] == 1 for v in at[p, s]]
            m.add(sum(left) == sum(right))
    return m, seating.x


class FloorSearch:
    """The at-floor model solving in a thread (CP-SAT releases the GIL) while the caller searches.

    It runs on its own `budget` of work, never on what the caller does, so its answer depends on
    its input only: `wait` waits for its end, `stop` ends it when the caller no longer needs it
    (found the floor itself). `slot_of` is its schedule at the floor, if it found one (`found`
    is set then); `work` is what the solve spent, for the caller to charge: the run's clock
    moves only in the run's thread.
    """

    def __init__(
        self,
        prep: Prepared,
        keep: Sequence[int],
        floors: Sequence[int],
        *,
        hint: dict[int, int],
        budget: float,
        clock: WorkClock,
        seed: int,
    ) -> None:
        self.found = threading.Event()
        self.slot_of: dict[int, int] | None = None
        self.work = 0.0
        self._solver: cp_model.CpSolver | None = None
        self._cancelled = False
        self._lock = threading.Lock()
        solve = functools.partial(
            self._solve, prep, list(keep), list(floors), dict(hint), budget, clock, seed
        )
        self._thread = threading.Thread(
            target=self._run, args=(solve,), name="at-floor", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _run(solve: Callable[[], None]) -> None:
        try:
            solve()
        except Exception:
            # The search's answer stands; a failure here must not pass unseen.
            log.exception("the at-floor model failed; the search's schedule is kept")

    def _solve(
        self,
        prep: Prepared,
        keep: list[int],
        floors: list[int],
        hint: dict[int, int],
        budget: float,
        clock: WorkClock,
        seed: int,
    ) -> None:
        built = at_floor_model(prep, keep, floors, hint=hint)
        if built is None:
            return
        m, x = built
        # One worker: the search holds the other core.
        solver = solver_for(time_limit=budget, seed=seed, workers=1, clock=clock)
        with self._lock:
            if self._cancelled:
                return
            self._solver = solver
        code = solver.solve(m)
        self.work = cp_sat_work(solver)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.slot_of = {i: s for (i, s), v in x.items() if solver.boolean_value(v)}
            self.found.set()

    def stop(self) -> None:
        """End the solve (or keep it from starting) and wait for the thread; idempotent. A model
        being built is finished first (up to 3 s on 300x2000)."""
        with self._lock:
            self._cancelled = True
        while self._thread.is_alive():
            # Asked again until the thread ends: a stop that comes before the solve has
            # started is not kept by CP-SAT.
            with self._lock:
                if self._solver is not None:
                    self._solver.stop_search()
            self._thread.join(0.05)

    def wait(self) -> dict[int, int] | None:
        """The schedule at the floor, or None, once the solve has ended on its own budget."""
        self._thread.join()
        return self.slot_of
