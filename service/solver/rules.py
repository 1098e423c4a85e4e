"""Independent checks of finished schedules, so no solver answer is trusted unread."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.solver.dzn import Instance
from service.solver.problem import Placement, Problem


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: a short rule name and what broke it."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def breaks_of(slots: Iterable[int]) -> int:
    """Count maximal runs of empty slots strictly between one participant's meetings."""
    busy = sorted(set(slots))
    return sum(1 for s, t in itertools.pairwise(busy) if t > s + 1)


def participant_breaks(*, instance: Instance, slots: Sequence[int]) -> list[int]:
    """Breaks of every participant (index 0 is participant 1) under a slot per meeting."""
    busy: list[list[int]] = [[] for _ in range(instance.n_business)]
    for (a, b, _), s in zip(instance.requested, slots, strict=True):
        busy[a - 1].append(s)
        busy[b - 1].append(s)
    return [breaks_of(b) for b in busy]


def check_bmsp(*, instance: Instance, slots: Sequence[int], d: int | None = 2) -> list[Violation]:
    """Every rule of the benchmark a slot-per-meeting answer breaks; empty when it is valid.

    Fairness follows the paper's encoding: the spread is taken over all participants,
    those without meetings (zero breaks) included.
    """
    if len(slots) != instance.n_meetings:
        return [Violation("length", f"{len(slots)} slots for {instance.n_meetings} meetings")]
    out: list[Violation] = []
    for m, s in enumerate(slots, start=1):
        if not 1 <= s <= instance.n_slots:
            out.append(Violation("slot_range", f"meeting {m} in slot {s}"))
    if out:
        return out

    seen: dict[tuple[int, int], int] = {}
    for m, ((a, b, session), s) in enumerate(zip(instance.requested, slots, strict=True), start=1):
        for p in (a, b):
            other = seen.setdefault((p, s), m)
            if other != m:
                detail = f"participant {p} has meetings {other} and {m} in slot {s}"
                out.append(Violation("clash", detail))
            if s in instance.forbidden[p - 1]:
                detail = f"meeting {m}: participant {p} cannot meet in slot {s}"
                out.append(Violation("forbidden", detail))
        if session == 1 and s > instance.n_morning:
            out.append(Violation("session", f"meeting {m} is morning-only but sits in slot {s}"))
        if session == 2 and s <= instance.n_morning:
            out.append(Violation("session", f"meeting {m} is afternoon-only but sits in slot {s}"))
        fixed = instance.fixed[m - 1]
        if fixed and fixed != s:
            out.append(Violation("fixed", f"meeting {m} is fixed to slot {fixed} but sits in {s}"))
        for earlier in sorted(instance.precedences[m - 1]):
            if slots[earlier - 1] >= s:
                out.append(Violation("precedence", f"meeting {earlier} must come before {m}"))

    for s, n in sorted(Counter(slots).items()):
        if n > instance.n_tables:
            detail = f"slot {s} holds {n} meetings for {instance.n_tables} tables"
            out.append(Violation("tables", detail))

    if d is not None:
        breaks = participant_breaks(instance=instance, slots=slots)
        hi, lo = max(breaks), min(breaks)
        if hi - lo > d:
            worst = breaks.index(hi) + 1
            detail = f"breaks range {lo}..{hi} exceeds d={d} (participant {worst})"
            out.append(Violation("fairness", detail))
    return out


def check_event(
    *, event: Problem, meetings: Iterable[Placement], also_allowed: Iterable[Placement] = ()
) -> list[Violation]:
    """Every hard rule of the event day a list of meetings breaks; empty when it is valid.

    `also_allowed` are meetings that need not be candidates (fill mode keeps earlier ones).
    """
    out: list[Violation] = []
    people = {p.id: p for p in event.participants}
    cands = {frozenset((c.a, c.b)): c for c in event.candidates}
    extra = {frozenset((mt.a, mt.b)): mt for mt in also_allowed}
    morning = event.morning_slots if event.morning_slots is not None else event.slots
    seen_pair: set[frozenset[str]] = set()
    seen_person: dict[tuple[str, int], str] = {}
    seen_table: dict[tuple[int, int], str] = {}
    per_slot: Counter[int] = Counter()
    count: Counter[str] = Counter()
    for mt in meetings:
        name = f"{mt.a}-{mt.b}@{mt.slot}"
        key = frozenset((mt.a, mt.b))
        c = cands.get(key)
        if c is None and key not in extra:
            out.append(Violation("not_candidate", f"{name} is not a candidate pair"))
        if key in seen_pair:
            out.append(Violation("pair_twice", f"{mt.a}-{mt.b} meets more than once"))
        seen_pair.add(key)
        if not 1 <= mt.slot <= event.slots:
            out.append(Violation("slot_range", f"{name}: no slot {mt.slot}"))
        if not 1 <= mt.table <= event.tables:
            out.append(Violation("table_range", f"{name}: no table {mt.table}"))
        per_slot[mt.slot] += 1
        other = seen_table.setdefault((mt.table, mt.slot), name)
        if other != name:
            out.append(Violation("table_clash", f"{other} and {name} share table {mt.table}"))
        for pid in (mt.a, mt.b):
            p = people.get(pid)
            if p is None:
                out.append(Violation("unknown", f"{name}: unknown participant {pid}"))
                continue
            count[pid] += 1
            other = seen_person.setdefault((pid, mt.slot), name)
            if other != name:
                out.append(Violation("clash", f"{pid} is in {other} and {name}"))
            if mt.slot in p.unavailable:
                out.append(Violation("unavailable", f"{name}: {pid} is unavailable"))
            if p.table is not None and mt.table != p.table:
                out.append(
                    Violation("own_table", f"{name} at table {mt.table}, {pid} keeps {p.table}")
                )
        if c is not None and key not in extra:
            if c.session == "morning" and mt.slot > morning:
                out.append(Violation("session", f"{name} is morning-only"))
            if c.session == "afternoon" and mt.slot <= morning:
                out.append(Violation("session", f"{name} is afternoon-only"))
            if c.slot is not None and mt.slot != c.slot:
                out.append(Violation("fixed", f"{name} is fixed to slot {c.slot}"))
            if c.locked and c.table is not None and mt.table != c.table:
                out.append(Violation("locked", f"{name} is locked to table {c.table}"))
    for pid, n in sorted(count.items()):
        cap = people[pid].max_meetings
        if cap is not None and n > cap:
            out.append(Violation("max_meetings", f"{pid} has {n} meetings, max {cap}"))
    for s, n in sorted(per_slot.items()):
        cap = event.tables if event.capacity is None else min(event.tables, event.capacity[s - 1])
        if n > cap:
            out.append(Violation("tables", f"slot {s} holds {n} meetings, capacity {cap}"))
    for key, mt in extra.items():
        if key not in seen_pair:
            out.append(Violation("locked", f"{mt.a}-{mt.b} was dropped"))
    for c in event.candidates:
        if c.locked and frozenset((c.a, c.b)) not in seen_pair:
            out.append(Violation("locked", f"locked {c.a}-{c.b} was dropped"))
    return out
