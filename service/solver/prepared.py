"""The prepared problem: candidates checked and indexed into slot-model tasks, pairs that can
never meet set aside; the objective levels recomputed from a schedule, and stated as CP-SAT
expressions for the engine's models and the at-floor model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from service.solver.problem import Attendee, Candidate, Mode, Objective, Placement, Problem, Unmet
from service.solver.slotting import Seats, Task


@dataclass(slots=True)
class Prepared:
    """Candidates checked and indexed: the tasks that can meet and what never can."""

    event: Problem
    people: dict[str, int]
    candidates: list[Candidate]
    tasks: list[Task]
    task_candidate: list[int]
    unmet: list[Unmet]
    capacity: tuple[int, ...]
    previous_slot: dict[int, int]
    previous_table: dict[int, int]
    dropped_previous: int


def _allowed(event: Problem, c: Candidate, pa: Attendee, pb: Attendee) -> list[int]:
    """Slots a candidate may take by session, fixed slot and both sides' availability."""
    morning = event.morning_slots if event.morning_slots is not None else event.slots
    if c.session == "morning":
        slots = range(1, morning + 1)
    elif c.session == "afternoon":
        slots = range(morning + 1, event.slots + 1)
    else:
        slots = range(1, event.slots + 1)
    out = [s for s in slots if s not in pa.unavailable and s not in pb.unavailable]
    if c.slot is not None:
        out = [s for s in out if s == c.slot]
    return out


def _validate(event: Problem) -> None:
    """Reject malformed input early with a plain ValueError."""
    if event.slots < 1 or event.tables < 0:
        raise ValueError("an event needs at least one slot and a non-negative table count")
    if event.morning_slots is not None and not 0 <= event.morning_slots <= event.slots:
        raise ValueError("morning_slots must lie within 0..slots")
    if event.capacity is not None and len(event.capacity) != event.slots:
        raise ValueError("capacity needs one entry per slot")
    ids = [p.id for p in event.participants]
    if len(set(ids)) != len(ids):
        raise ValueError("participant ids must be unique")
    for p in event.participants:
        if p.table is not None and not 1 <= p.table <= event.tables:
            raise ValueError(f"{p.id}: table {p.table} outside 1..{event.tables}")
        if p.max_meetings is not None and p.max_meetings < 0:
            raise ValueError(f"{p.id}: negative max_meetings")
    known = set(ids)
    pairs: set[frozenset[str]] = set()
    for c in event.candidates:
        if c.a not in known or c.b not in known:
            raise ValueError(f"candidate {c.a}-{c.b} names an unknown participant")
        if c.a == c.b:
            raise ValueError(f"candidate {c.a}-{c.b} pairs a participant with itself")
        key = frozenset((c.a, c.b))
        if key in pairs:
            raise ValueError(f"pair {c.a}-{c.b} listed twice")
        pairs.add(key)
        if c.weight < 0:
            raise ValueError(f"pair {c.a}-{c.b} has a negative weight")
        if c.slot is not None and not 1 <= c.slot <= event.slots:
            raise ValueError(f"pair {c.a}-{c.b}: slot {c.slot} outside 1..{event.slots}")
        if c.locked and c.slot is None:
            raise ValueError(f"locked pair {c.a}-{c.b} has no slot")
        if c.session != "any" and event.morning_slots is None:
            raise ValueError(f"pair {c.a}-{c.b} asks for a session but the event has none")


def prepare(event: Problem, *, mode: Mode, previous: Sequence[Placement]) -> Prepared:
    """Turn candidates into slot-model tasks, setting aside pairs that can never meet."""
    _validate(event)
    people = {p.id: i for i, p in enumerate(event.participants)}
    by_id = {p.id: p for p in event.participants}
    candidates = list(event.candidates)
    index = {frozenset((c.a, c.b)): k for k, c in enumerate(candidates)}
    prev_of: dict[int, Placement] = {}
    dropped = 0
    for mt in previous:
        key = frozenset((mt.a, mt.b))
        k = index.get(key)
        if mode == "fill":
            # Fill keeps every scheduled meeting exactly, candidate or not.
            if k is None:
                candidates.append(Candidate(mt.a, mt.b))
                k = len(candidates) - 1
                index[key] = k
            candidates[k] = replace(candidates[k], locked=True, slot=mt.slot, table=mt.table)
        elif k is None:
            # A previous meeting that is no longer a candidate is dropped by force.
            dropped += 1
            continue
        prev_of[k] = mt

    capacity = tuple(
        min(event.tables, event.capacity[s] if event.capacity else event.tables)
        for s in range(event.slots)
    )
    tasks: list[Task] = []
    task_candidate: list[int] = []
    unmet: list[Unmet] = []
    previous_slot: dict[int, int] = {}
    previous_table: dict[int, int] = {}
    for k, c in enumerate(candidates):
        pa, pb = by_id[c.a], by_id[c.b]
        reason = None
        table = c.table if c.locked and c.table is not None else None
        own = {t for t in (pa.table, pb.table) if t is not None}
        if len(own) == 2:
            reason = f"both have their own table ({pa.table} and {pb.table})"
        elif own:
            owned = own.pop()
            if table is not None and table != owned:
                reason = (
                    f"locked at table {table} but {c.a if pa.table else c.b} keeps table {owned}"
                )
            table = owned
        if table is not None and not 1 <= table <= event.tables:
            reason = f"table {table} outside 1..{event.tables}"
        slots = _allowed(event, c, pa, pb)
        if reason is None and not slots:
            reason = _no_slot_reason(event, c, pa, pb)
        if reason is not None:
            if c.required or c.locked:
                kind = "locked" if c.locked else "required_pair"
                unmet.append(Unmet(kind, (c.a, c.b), reason))
            elif len(own) == 2:
                unmet.append(Unmet("candidate", (c.a, c.b), reason))
            if k in prev_of:
                dropped += 1
            continue
        if k in prev_of:
            previous_slot[len(tasks)] = prev_of[k].slot
            previous_table[len(tasks)] = prev_of[k].table
        tasks.append(
            Task(
                a=people[c.a],
                b=people[c.b],
                slots=tuple(slots),
                required=c.locked,
                weight=c.weight,
                table=table,
            )
        )
        task_candidate.append(k)
    return Prepared(
        event=event,
        people=people,
        candidates=candidates,
        tasks=tasks,
        task_candidate=task_candidate,
        unmet=unmet,
        capacity=capacity,
        previous_slot=previous_slot,
        previous_table=previous_table,
        dropped_previous=dropped,
    )


def _no_slot_reason(event: Problem, c: Candidate, pa: Attendee, pb: Attendee) -> str:
    """Say why a pair has no slot it could use."""
    if c.slot is not None:
        gone = [p.id for p in (pa, pb) if c.slot in p.unavailable]
        if gone:
            return f"slot {c.slot} is unavailable for {', '.join(gone)}"
        return f"slot {c.slot} is outside the {c.session} session"
    return f"no slot in the {c.session} session where both {c.a} and {c.b} are available"


def add_seating(
    m: cp_model.CpModel,
    prep: Prepared,
    keep: Sequence[int],
    *,
    optional: Collection[int] = (),
    hint: dict[int, int] | None = None,
) -> Seats[cp_model.IntVar]:
    """x[i, s] for every task of `keep` and slot it may take, under the hard rules of the
    slots: each task exactly once (at most once when in `optional`), a person and a table at
    most once a slot, a slot's capacity; hinted at the slots `hint` gives."""

    def new(i: int, s: int) -> cp_model.IntVar:
        v = m.new_bool_var(f"x{i}_{s}")
        if hint is not None and i in hint:
            m.add_hint(v, hint[i] == s)
        return v

    seats: Seats[cp_model.IntVar] = Seats()
    for i, row in seats.add(prep.tasks, keep, new):
        if i in optional:
            m.add_at_most_one(row)
        else:
            m.add_exactly_one(row)
    for vs in (*seats.at.values(), *seats.tables.values()):
        if len(vs) > 1:
            m.add_at_most_one(vs)
    for s, vs in seats.by_slot.items():
        if len(vs) > prep.capacity[s - 1]:
            m.add(sum(vs) <= prep.capacity[s - 1])
    return seats


def add_rules(
    m: cp_model.CpModel, prep: Prepared, placed: Sequence[cp_model.LinearExprT]
) -> dict[str, cp_model.LinearExprT]:
    """Max meetings as hard rules; the expressions of the objective levels."""
    count: dict[int, list[cp_model.LinearExprT]] = defaultdict(list)
    for i, t in enumerate(prep.tasks):
        count[t.a].append(placed[i])
        count[t.b].append(placed[i])
    shortfall: list[cp_model.LinearExprT] = []
    for p, part in enumerate(prep.event.participants):
        mine = count.get(p, [])
        if part.max_meetings is not None and len(mine) > part.max_meetings:
            m.add(sum(mine) <= part.max_meetings)
        if part.min_meetings > 0:
            short = m.new_int_var(0, part.min_meetings, f"short{p}")
            m.add(short >= part.min_meetings - sum(mine))
            shortfall.append(short)
    missing = sum(
        1 - placed[i]
        for i, k in enumerate(prep.task_candidate)
        if prep.candidates[k].required and not prep.tasks[i].required
    )
    weight = sum(t.weight * placed[i] for i, t in enumerate(prep.tasks) if t.weight)
    return {"required_missing": missing, "shortfall": sum(shortfall), "weight": weight}


def objective_of(prep: Prepared, slot_of: dict[int, int]) -> Objective:
    """Recompute every level from the schedule itself, independent of the model."""
    event = prep.event
    count = [0] * len(event.participants)
    busy: dict[int, list[int]] = defaultdict(list)
    for i, s in slot_of.items():
        for p in (prep.tasks[i].a, prep.tasks[i].b):
            count[p] += 1
            busy[p].append(s)
    missing = sum(
        1
        for i, k in enumerate(prep.task_candidate)
        if prep.candidates[k].required and i not in slot_of
    ) + sum(1 for u in prep.unmet if u.kind == "required_pair")
    shortfall = sum(max(0, p.min_meetings - count[k]) for k, p in enumerate(event.participants))
    weight = sum(prep.tasks[i].weight for i in slot_of)
    changes = prep.dropped_previous + sum(
        1 for i, s in prep.previous_slot.items() if slot_of.get(i) != s
    )
    breaks = sum(
        sum(1 for a, b in zip(sorted(v), sorted(v)[1:], strict=False) if b > a + 1)
        for v in busy.values()
    )
    return Objective(missing, shortfall, weight, changes, breaks)


def rank(prep: Prepared, slot_of: dict[int, int]) -> tuple[int, int, int, int, int]:
    """The lexicographic key of a schedule, smaller is better."""
    o = objective_of(prep, slot_of)
    return (o.required_missing, o.shortfall, -o.weight, o.changes, o.breaks)
