"""Independent checks of finished schedules, so no solver answer is trusted unread."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.scheduling.dzn import Instance


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
