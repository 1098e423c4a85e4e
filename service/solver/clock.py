"""The engine's clock: a run's time limit spent as work, so one input gives one schedule.

Each step of a run is given a budget of what the clock leaves and is charged what it did:
CP-SAT its deterministic time, the breaks search its tried moves, the SAT solver its
propagations, each at a rate measured on the reference machine (below; docs/scheduling.md) to
come to about a second of wall time per second of work. None of it reads the wall clock, so
two runs on one input take the same steps with the same budgets and give the same schedule
however busy the machine is, in the web worker or in a build worker beside the API.

The wall clock only guards: every step also stops at WALL_FACTOR times the limit (plus
WALL_SLACK), and a run cut there is marked not `repeatable`.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

# Work seconds per unit of each solver's own count, measured on the reference machine (the
# 2-core AMD EPYC VM, 2026-12-07; docs/scheduling.md "Determinism"): a Kempe move tried
# (2.2-2.3 us on 300x2000), a CaDiCaL propagation (0.10-0.19 us on the bench's 20x40 and
# 50x90 events, where a conflict took 44-156 us), a unit of CP-SAT's deterministic time
# (1.7-2.9 s).
MOVE_SECONDS = 2.2e-6
PROPAGATION_SECONDS = 1.4e-7
DTIME_SECONDS = 2.0
# The most a conflict took there: what sizes a SAT call's last slice to the budget it has left.
CONFLICT_SECONDS = 1.5e-4
# A run stops on the wall clock only past this many times its limit (plus the slack).
WALL_FACTOR = 2.0
WALL_SLACK = 5.0


class WorkClock:
    """Work spent by one run, in work seconds; only the run's own thread charges it."""

    def __init__(self, limit: float) -> None:
        self.spent = 0.0
        self.wall_deadline = time.monotonic() + WALL_FACTOR * limit + WALL_SLACK
        self.repeatable = True

    def now(self) -> float:
        """Work spent so far: what `deadline - clock.now()` budgets against."""
        return self.spent

    def wall_left(self) -> float:
        """Wall seconds before the guard stops every step."""
        return max(0.0, self.wall_deadline - time.monotonic())

    def within_guard(self) -> bool:
        """Whether the wall-clock guard still lets steps run; once it does not, the run is
        marked not `repeatable`."""
        if time.monotonic() < self.wall_deadline:
            return True
        self.repeatable = False
        return False

    def charge(self, seconds: float) -> None:
        """Count a finished step's work; a step that ran into the wall guard marks the run."""
        self.spent += seconds
        if time.monotonic() >= self.wall_deadline:
            self.repeatable = False

    def solved(self, solver: cp_model.CpSolver) -> None:
        """Charge a CP-SAT solve."""
        self.charge(cp_sat_work(solver))


def cp_sat_work(solver: cp_model.CpSolver) -> float:
    """A finished CP-SAT solve's work in work seconds."""
    return float(solver.deterministic_time) * DTIME_SECONDS
