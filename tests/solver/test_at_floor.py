"""The at-floor model: it finds a schedule with everyone at their floor exactly when one exists."""

import random
import threading
import time
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from service.solver import at_floor, engine
from service.solver.at_floor import FloorSearch, at_floor_model
from service.solver.clock import WorkClock
from service.solver.engine import schedule_event
from service.solver.floors import MATCH_SETS_LIMIT, person_floors
from service.solver.prepared import Prepared, objective_of, prepare
from service.solver.rules import check_event
from service.solver.selection import freedom_of, select_flow
from tests.solver.support import committee_day, fewest_breaks, small_flow


def _at_floor(prep: Prepared, chosen: list[int], floors: list[int]) -> dict[int, int] | None:
    """The at-floor model's schedule, solved to the end; None when declined or infeasible."""
    built = at_floor_model(prep, chosen, floors, hint={})
    if built is None:
        return None
    model, x = built
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    code = solver.solve(model)
    assert code in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    if code == cp_model.INFEASIBLE:
        return None
    return {i: s for (i, s), v in x.items() if solver.boolean_value(v)}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 100_000))
def test_at_floor_schedule_exists_exactly_when_brute_force_finds_one(seed: int) -> None:
    _, prep, chosen, _, freedom = small_flow(seed)
    floors = person_floors(prep, freedom)
    fewest = fewest_breaks(prep, frozenset(chosen))
    # The busy sets as tables, and (as when a person has too many to list) as run starts.
    for limit in (MATCH_SETS_LIMIT, -1):
        with patch.object(at_floor, "MATCH_SETS_LIMIT", limit):
            slot_of = _at_floor(prep, chosen, floors)
        if slot_of is None:
            assert fewest is None or fewest > sum(floors)
            continue
        assert fewest == sum(floors)
        assert sorted(slot_of) == sorted(chosen)
        assert objective_of(prep, slot_of).breaks == sum(floors)


def test_engine_takes_the_at_floor_schedule_when_the_search_stalls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every event on the large-event path, and a search that moves nothing: only the at-floor
    # model can bring the breaks down to the floor.
    event = committee_day(7, 5, 14, 6)
    monkeypatch.setattr(engine, "BOUND_LIMIT", 0)
    monkeypatch.setattr(engine, "improve_breaks", lambda tasks, *, slot_of, **kw: dict(slot_of))
    result = schedule_event(event=event, time_limit=20)
    assert check_event(event=event, meetings=result.meetings) == []
    assert result.objective is not None and result.breaks_bound is not None
    assert result.objective.breaks == result.breaks_bound
    assert result.status == "optimal"
    # With one worker there is no second core for it: the placement's breaks stay.
    alone = schedule_event(event=event, time_limit=20, workers=1)
    assert alone.objective is not None
    assert alone.objective.breaks > result.objective.breaks


def _hard(*_: object, **__: object) -> tuple[cp_model.CpModel, dict[object, object]]:
    """Random 3-SAT at the threshold, 400 variables: one worker decides nothing in 10 s."""
    rng = random.Random(1)
    m = cp_model.CpModel()
    v = [m.new_bool_var(f"v{k}") for k in range(400)]
    for _ in range(1704):
        m.add_bool_or([v[k] if rng.random() < 0.5 else ~v[k] for k in rng.sample(range(400), 3)])
    return m, {}


class _LateSolver(cp_model.CpSolver):
    """A solver whose solve begins only after a first stop was asked, which CP-SAT drops."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.asked = threading.Event()
        self.parameters.num_workers = 1
        self.parameters.max_time_in_seconds = 20

    def stop_search(self) -> None:
        super().stop_search()
        self.asked.set()

    def solve(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.asked.wait(20)
        return super().solve(*args, **kwargs)


def test_stop_ends_a_solve_that_starts_after_it_was_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _LateSolver()
    monkeypatch.setattr(at_floor, "at_floor_model", _hard)
    monkeypatch.setattr(at_floor, "solver_for", lambda **_: made)
    prep = prepare(committee_day(1, 2, 3, 4), mode="rebuild", previous=())
    race = FloorSearch(prep, [], [], hint={}, budget=20, clock=WorkClock(20), seed=0)
    assert made.entered.wait(20)
    started = time.monotonic()
    race.stop()
    # One stop_search alone would leave the solve running for its 20 s.
    assert time.monotonic() - started < 5
    assert made.response_proto.status == cp_model.UNKNOWN  # stopped, not decided
    assert not race.found.is_set() and race.slot_of is None


def test_stop_during_the_build_keeps_the_solve_from_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = committee_day(3, 12, 60, 10)
    prep = prepare(event, mode="rebuild", previous=())
    flow = select_flow(prep, rebuild=False)
    freedom = freedom_of(prep)
    assert flow is not None and freedom is not None
    floors = person_floors(prep, freedom)
    races: list[FloorSearch] = []

    def built_after_the_stop(*args: Any, **kwargs: Any) -> Any:
        # The build ends only once the stop was asked, whatever the machine's load.
        give_up = time.monotonic() + 20
        while not (races and races[0]._cancelled) and time.monotonic() < give_up:
            time.sleep(0.005)
        return at_floor_model(*args, **kwargs)

    monkeypatch.setattr(at_floor, "at_floor_model", built_after_the_stop)
    races.append(
        FloorSearch(prep, flow[0], floors, hint={}, budget=60, clock=WorkClock(60), seed=0)
    )
    race = races[0]
    race.stop()
    monkeypatch.undo()
    # This event's model is solved in a tenth of a second: a solve would have found it.
    assert not race.found.is_set() and race.slot_of is None
    again = FloorSearch(prep, flow[0], floors, hint={}, budget=60, clock=WorkClock(60), seed=0)
    assert again.wait() is not None


def test_a_failing_model_is_logged_and_the_search_answer_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise IndexError("no floor for this person")

    monkeypatch.setattr(at_floor, "at_floor_model", broken)
    prep = prepare(committee_day(1, 2, 3, 4), mode="rebuild", previous=())
    race = FloorSearch(prep, [], [], hint={}, budget=10, clock=WorkClock(10), seed=0)
    assert race.wait() is None
    assert "the at-floor model failed" in caplog.text
    assert "no floor for this person" in caplog.text
