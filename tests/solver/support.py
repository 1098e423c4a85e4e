"""What the solver tests share: small events to schedule and brute-force answers to check
the solver against."""

import itertools
import random

from service.solver.prepared import Prepared, objective_of, prepare
from service.solver.problem import Attendee, Candidate, Problem, Session
from service.solver.selection import Freedom, freedom_of, select_flow
from service.solver.slotting import LevelResult


def committee_day(seed: int, committees: int, orgs: int, slots: int) -> Problem:
    """Committees at their own tables, organizations with caps, minimums and missing slots."""
    rng = random.Random(seed)
    people = [
        Attendee(
            f"C{i}",
            kind="committee",
            table=i + 1,
            unavailable=frozenset(rng.sample(range(1, slots + 1), rng.randint(0, 1))),
        )
        for i in range(committees)
    ]
    people += [
        Attendee(
            f"O{j}",
            unavailable=frozenset(rng.sample(range(1, slots + 1), rng.randint(0, 2))),
            min_meetings=rng.randint(0, 2),
            max_meetings=rng.randint(1, slots),
        )
        for j in range(orgs)
    ]
    cands = [
        Candidate(f"C{i}", f"O{j}", weight=rng.randint(0, 25_000), required=rng.random() < 0.05)
        for j in range(orgs)
        for i in sorted(rng.sample(range(committees), rng.randint(1, committees)))
    ]
    return Problem(
        slots=slots, tables=committees, participants=tuple(people), candidates=tuple(cands)
    )


def fewest_breaks(prep: Prepared, tasks: frozenset[int]) -> int | None:
    """The fewest breaks over every placement of `tasks` under the hard rules (None: none)."""
    order = sorted(tasks, key=lambda i: len(prep.tasks[i].slots))
    best: list[int] = []
    slot_of: dict[int, int] = {}

    def walk(k: int) -> None:
        if k == len(order):
            b = objective_of(prep, slot_of).breaks
            if not best or b < best[0]:
                best[:] = [b]
            return
        i = order[k]
        t = prep.tasks[i]
        for s in t.slots:
            same = [j for j, u in slot_of.items() if u == s]
            if len(same) >= prep.capacity[s - 1]:
                continue
            if any({t.a, t.b} & {prep.tasks[j].a, prep.tasks[j].b} for j in same):
                continue
            if t.table is not None and any(prep.tasks[j].table == t.table for j in same):
                continue
            slot_of[i] = s
            walk(k + 1)
            del slot_of[i]

    walk(0)
    return best[0] if best else None


def small_flow(seed: int) -> tuple[Problem, Prepared, list[int], list[LevelResult], Freedom]:
    """A small event with ties and sessions, prepared; its flow selection and levels, and what
    every optimal selection shares."""
    event = small_problem(
        seed, fewest_slots=3, org_gaps=2, most_meetings=4, keep=0.8, at_most=9, sessions=True
    )
    prep = prepare(event, mode="rebuild", previous=())
    flow = select_flow(prep, rebuild=False)
    freedom = freedom_of(prep)
    assert flow is not None and freedom is not None
    return event, prep, flow[0], flow[1], freedom


def every_optimal_selection(event: Problem) -> list[frozenset[int]]:
    """Every task set of the flow relaxation that is best on (missing, shortfall, -weight)."""
    prep = prepare(event, mode="rebuild", previous=())
    n = len(event.participants)
    usable: list[set[int]] = [set() for _ in range(n)]
    for t in prep.tasks:
        usable[t.a] |= set(t.slots)
        usable[t.b] |= set(t.slots)
    cap = [
        min(len(usable[p]), part.max_meetings if part.max_meetings is not None else event.slots)
        for p, part in enumerate(event.participants)
    ]
    required = [prep.candidates[k].required for k in prep.task_candidate]
    best: list[frozenset[int]] = []
    best_key = None
    locked = {i for i, t in enumerate(prep.tasks) if t.required}
    free = [i for i in range(len(prep.tasks)) if i not in locked]
    for bits in itertools.product((0, 1), repeat=len(free)):
        chosen = locked | {i for i, b in zip(free, bits, strict=True) if b}
        count = [0] * n
        for i in chosen:
            count[prep.tasks[i].a] += 1
            count[prep.tasks[i].b] += 1
        if any(c > k for c, k in zip(count, cap, strict=True)):
            continue
        if len(chosen) > sum(prep.capacity):
            continue
        key = (
            sum(1 for i, r in enumerate(required) if r and i not in chosen),
            sum(max(0, p.min_meetings - count[k]) for k, p in enumerate(event.participants)),
            -sum(prep.tasks[i].weight for i in chosen),
        )
        if best_key is None or key < best_key:
            best, best_key = [frozenset(chosen)], key
        elif key == best_key:
            best.append(frozenset(chosen))
    return best


def small_problem(
    seed: int,
    *,
    fewest_slots: int,
    org_gaps: int,
    most_meetings: int,
    keep: float,
    at_most: int,
    sessions: bool,
) -> Problem:
    """1-3 committees at their own tables and 2-4 organizations, each missing up to 2 (for
    organizations `org_gaps`) of `fewest_slots`-6 slots; each pair a candidate with chance
    `keep`, `at_most` of them, weights 1-3 (few distinct weights, so that selections tie), a
    tenth required, with `sessions` two in five confined to a half-day."""
    rng = random.Random(seed)
    slots = rng.randint(fewest_slots, 6)
    committees = [
        Attendee(
            f"C{i}",
            kind="committee",
            table=i + 1,
            unavailable=frozenset(rng.sample(range(1, slots + 1), rng.randint(0, 2))),
        )
        for i in range(rng.randint(1, 3))
    ]
    orgs = [
        Attendee(
            f"O{j}",
            unavailable=frozenset(rng.sample(range(1, slots + 1), rng.randint(0, org_gaps))),
            min_meetings=rng.randint(0, 1),
            max_meetings=rng.randint(1, most_meetings),
        )
        for j in range(rng.randint(2, 4))
    ]
    halves: tuple[Session, ...] = ("any", "any", "any", "morning", "afternoon")
    cands = [
        Candidate(
            c.id,
            o.id,
            weight=rng.choice((1, 2, 3)),
            required=rng.random() < 0.1,
            session=rng.choice(halves) if sessions else "any",
        )
        for o in orgs
        for c in committees
        if rng.random() < keep
    ][:at_most]
    return Problem(
        slots=slots,
        tables=len(committees),
        participants=tuple(committees + orgs),
        candidates=tuple(cands),
        morning_slots=slots // 2,
    )
