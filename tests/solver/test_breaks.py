"""The MaxSAT model counts breaks and judges fairness exactly as the independent checker does."""

import itertools
import random
import signal
import time

import pytest

from service.solver import blocks
from service.solver.breaks import (
    BreakCnf,
    encode,
    fairness_is_per_person,
    solve_cnf,
    solve_descent,
)
from service.solver.dzn import Instance
from service.solver.rules import check_bmsp, participant_breaks


def _instance(rng: random.Random) -> Instance:
    """A small random instance; the last participant has no meetings (fairness per person)."""
    n_people, n_slots = 5, rng.randint(4, 8)
    pairs = [(a, b) for a in range(1, n_people) for b in range(a + 1, n_people)]
    chosen = rng.sample(pairs, rng.randint(3, len(pairs)))
    requested = tuple((a, b, rng.choice((1, 2, 3, 3, 3))) for a, b in chosen)
    n_morning = rng.randint(1, n_slots - 1)
    forbidden = tuple(
        frozenset(s for s in range(1, n_slots + 1) if rng.random() < 0.1) for _ in range(n_people)
    )
    fixed = tuple(rng.randint(1, n_slots) if rng.random() < 0.1 else 0 for _ in requested)
    return Instance(
        n_business=n_people + 1,
        n_tables=rng.randint(1, 3),
        n_slots=n_slots,
        n_morning=n_morning,
        requested=requested,
        fixed=fixed,
        forbidden=(*forbidden, frozenset()),
        precedences=(frozenset(),) * len(requested),
    )


def _schedule(rng: random.Random, inst: Instance) -> tuple[int, ...]:
    """Mostly valid slots: each meeting takes a random free allowed slot, else any slot."""
    taken: set[tuple[int, int]] = set()
    per_slot = [0] * (inst.n_slots + 1)
    slots = []
    for m, (a, b, _) in enumerate(inst.requested, start=1):
        free = [
            s
            for s in inst.allowed_slots(m)
            if (a, s) not in taken and (b, s) not in taken and per_slot[s] < inst.n_tables
        ]
        s = rng.choice(free) if free and rng.random() < 0.95 else rng.randint(1, inst.n_slots)
        taken |= {(a, s), (b, s)}
        per_slot[s] += 1
        slots.append(s)
    return tuple(slots)


def test_model_agrees_with_checker_on_fixed_schedules() -> None:
    seen: list[tuple[bool, int | None]] = []
    for seed in range(40):
        rng = random.Random(seed)
        inst = _instance(rng)
        assert fairness_is_per_person(inst)
        for _ in range(10):
            d = rng.choice((0, 1, 2))
            slots = _schedule(rng, inst)
            cnf = encode(inst, d=d)
            assert cnf is not None
            # Pin the schedule (a slot the model has no variable for is a contradiction).
            cnf.hard.extend([[cnf.x[m, s]] if (m, s) in cnf.x else [] for m, s in enumerate(slots)])
            out = solve_cnf(cnf, n_meetings=inst.n_meetings, time_limit=10)
            valid = check_bmsp(instance=inst, slots=slots, d=d) == []
            if valid:
                assert out.status == "optimal"
                assert out.slots == slots
                assert out.cost == sum(participant_breaks(instance=inst, slots=slots))
            else:
                assert out.status == "infeasible"
            seen.append((valid, out.cost))
    # The draws cover invalid schedules and valid ones with and without breaks.
    assert (False, None) in seen
    assert (True, 0) in seen
    assert any(valid and cost for valid, cost in seen)


def test_no_per_person_fairness_falls_back() -> None:
    # Everybody has two meetings: the smallest break count is not surely zero.
    inst = Instance(
        n_business=3,
        n_tables=2,
        n_slots=4,
        n_morning=4,
        requested=((1, 2, 3), (2, 3, 3), (1, 3, 3)),
        fixed=(0, 0, 0),
        forbidden=(frozenset(),) * 3,
        precedences=(frozenset(),) * 3,
    )
    assert encode(inst, d=2) is None
    assert encode(inst, d=None) is not None


def test_descent_and_core_guided_agree_on_the_optimum() -> None:
    costs: set[int | None] = set()
    for seed in range(40):
        rng = random.Random(seed)
        inst = _instance(rng)
        d = rng.choice((0, 1, 2))
        core = encode(inst, d=d)
        down = encode(inst, d=d)
        assert core is not None and down is not None
        a = solve_cnf(core, n_meetings=inst.n_meetings, time_limit=10)
        b = solve_descent(down, n_meetings=inst.n_meetings, time_limit=10, solver="cadical153")
        assert a.status == b.status
        assert a.cost == b.cost
        if b.status == "optimal":
            assert check_bmsp(instance=inst, slots=b.slots, d=d) == []
            assert b.cost == sum(participant_breaks(instance=inst, slots=b.slots))
        costs.add(a.cost)
    # Both infeasible and optimal instances, some optimal with breaks.
    assert None in costs
    assert any(c for c in costs)


def _tiny(rng: random.Random) -> Instance:
    """A random instance cut to at most 5 meetings and 5 slots, small enough to enumerate."""
    inst = _instance(rng)
    return Instance(
        n_business=inst.n_business,
        n_tables=inst.n_tables,
        n_slots=min(inst.n_slots, 5),
        n_morning=min(inst.n_morning, 4),
        requested=inst.requested[:5],
        fixed=tuple(min(f, 5) for f in inst.fixed[:5]),
        forbidden=inst.forbidden,
        precedences=inst.precedences[:5],
    )


def _every_valid_breaks(inst: Instance) -> list[list[int]]:
    """Each participant's breaks in every schedule that keeps the rules (fairness aside)."""
    return [
        participant_breaks(instance=inst, slots=slots)
        for slots in itertools.product(range(1, inst.n_slots + 1), repeat=inst.n_meetings)
        if not check_bmsp(instance=inst, slots=slots, d=None)
    ]


def test_block_model_agrees_with_brute_force() -> None:
    """'No breaks' and 'exactly one break, p's' are decided as enumerating every schedule does."""
    from service.solver.blocks import decide

    rng = random.Random(7)
    for _ in range(12):
        inst = _tiny(rng)
        valid = _every_valid_breaks(inst)
        two = [p for p in range(1, inst.n_business + 1) if len(inst.meetings_of(p)) >= 2]
        for breaker in (None, *two):
            want = any(
                all(b == (1 if p + 1 == breaker else 0) for p, b in enumerate(row)) for row in valid
            )
            status, slots = decide(inst, breaker=breaker, time_limit=5.0, workers=1)
            assert status == ("feasible" if want else "infeasible"), (inst, breaker)
            if slots:
                assert not check_bmsp(instance=inst, slots=slots, d=None)
                per = participant_breaks(instance=inst, slots=slots)
                assert per == [1 if p + 1 == breaker else 0 for p in range(inst.n_business)]


def _one_break(inst: Instance, candidates: list[int] | None) -> tuple[int, ...] | None:
    """The one-break decision through a forked SAT call: its schedule, or None (refuted)."""
    base = blocks.one_break_base(inst, d=2)
    if base is None:
        return None
    cnf = blocks.one_break_cnf(base, inst.n_meetings, candidates)
    deadline = time.monotonic() + 10.0
    call = blocks.SatCall(cnf, "cadical153", deadline=deadline)
    try:
        answer = blocks.first_answer([call], deadline=deadline)
    finally:
        call.close()
    assert answer is not None and answer[1] is not None, "no answer in 10 s"
    return cnf.slots(answer[1]) if answer[1] else None


# 0: "at most one" as the sequential counter used for everybody's thousand break literals.
@pytest.mark.parametrize("pairwise_limit", [blocks.PAIRWISE_LIMIT, 0])
def test_one_break_decision_agrees_with_brute_force(
    pairwise_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schedule is found iff one with at most one break, a candidate's, exists."""
    monkeypatch.setattr(blocks, "PAIRWISE_LIMIT", pairwise_limit)
    rng = random.Random(11)
    for _ in range(8):
        inst = _tiny(rng)
        rows = _every_valid_breaks(inst)
        for candidates in ([1, 2], None):
            want = any(
                sum(row) <= 1
                and all(
                    b == 0 or candidates is None or p + 1 in candidates for p, b in enumerate(row)
                )
                for row in rows
            )
            slots = _one_break(inst, candidates)
            assert (slots is not None) == want, (inst, candidates)
            if slots:
                assert not check_bmsp(instance=inst, slots=slots, d=None)
                per = participant_breaks(instance=inst, slots=slots)
                assert sum(per) <= 1
                assert all(
                    b == 0 or candidates is None or p + 1 in candidates for p, b in enumerate(per)
                )


def test_sat_call_ends_itself_after_its_deadline() -> None:
    """A forked call stops at its deadline on its own (a killed parent cannot stop it)."""
    holes = 11  # 12 pigeons in 11 holes: far beyond CDCL in seconds (10 holes: over 25 s)
    var = {(p, h): p * holes + h + 1 for p in range(holes + 1) for h in range(holes)}
    hard = [[var[p, h] for h in range(holes)] for p in range(holes + 1)]
    for h in range(holes):
        hard.extend(
            [-var[p, h], -var[q, h]] for p, q in itertools.combinations(range(holes + 1), 2)
        )
    cnf = blocks.OneBreakCnf(hard=hard, base=BreakCnf(), n_meetings=0)
    started = time.monotonic()
    call = blocks.SatCall(cnf, "cadical153", deadline=started + 0.5)
    try:
        answer = blocks.first_answer([call], deadline=started + 20.0)
        elapsed = time.monotonic() - started
        # The pipe closes as the child exits, a moment before its exit code can be read.
        code = call.exitcode
        while code is None and time.monotonic() < started + 20.0:
            time.sleep(0.05)
            code = call.exitcode
    finally:
        call.close()
    assert answer == (call, None)  # gone without an answer
    assert code == -signal.SIGALRM  # ended by its alarm, not by anything else
    assert 1.0 <= elapsed < 10.0
