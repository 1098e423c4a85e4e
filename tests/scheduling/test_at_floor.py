"""The at-floor model: it finds a schedule with everyone at their floor exactly when one exists."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from service.scheduling import engine
from service.scheduling.at_floor import FloorSearch, at_floor_model
from service.scheduling.engine import schedule_event
from service.scheduling.floors import person_floors
from service.scheduling.prepared import objective_of, prepare
from service.scheduling.rules import check_event
from service.scheduling.selection import freedom_of, select_flow
from tests.scheduling.test_engine import _committee_day
from tests.scheduling.test_proof import _fewest_breaks, small_flow


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 100_000))
def test_at_floor_schedule_exists_exactly_when_brute_force_finds_one(seed: int) -> None:
    _, prep, chosen, _, freedom = small_flow(seed)
    floors = person_floors(prep, freedom)
    fewest = _fewest_breaks(prep, frozenset(chosen))
    built = at_floor_model(prep, chosen, floors, hint={})
    if built is None:
        # Declined only when someone cannot be at its floor with these pairs.
        assert fewest is None or fewest > sum(floors)
        return
    model, x = built
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    code = solver.solve(model)
    assert code in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    if code == cp_model.INFEASIBLE:
        assert fewest is None or fewest > sum(floors)
        return
    assert fewest == sum(floors)
    slot_of = {i: s for (i, s), v in x.items() if solver.boolean_value(v)}
    assert sorted(slot_of) == sorted(chosen)
    assert objective_of(prep, slot_of).breaks == sum(floors)


def test_engine_takes_the_at_floor_schedule_when_the_search_stalls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every event on the large-event path, and a search that moves nothing: only the at-floor
    # model can bring the breaks down to the floor.
    event = _committee_day(7, 5, 14, 6)
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


def test_stop_ends_the_solve_at_once() -> None:
    event = _committee_day(3, 12, 60, 10)
    prep = prepare(event, mode="rebuild", previous=())
    flow = select_flow(prep, rebuild=False)
    freedom = freedom_of(prep)
    assert flow is not None and freedom is not None
    floors = person_floors(prep, freedom)
    race = FloorSearch(prep, flow[0], floors, hint={}, deadline=time.monotonic() + 60, seed=0)
    started = time.monotonic()
    race.stop()
    assert time.monotonic() - started < 5
    assert not race.found.is_set() and race.slot_of is None
