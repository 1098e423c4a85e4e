"""Per-person lower bounds on breaks, valid over every schedule optimal on levels 1-3: the runs
of usable slots that hold a person's sure meetings, or the busy sets its fixed pairs can be
seated in."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence

from service.solver.prepared import Prepared
from service.solver.selection import Freedom

# The matched per-person floor stops climbing when a run count has more busy sets than this.
MATCH_SETS_LIMIT = 20_000


def _person_floor(n_slots: int, meetings: int, usable: set[int]) -> int:
    """Fewest breaks of someone with `meetings` meetings in the `usable` slots.

    Meetings in different maximal runs of usable slots are separated by an unusable (so empty)
    slot; the fewest runs that hold them all, minus one, is the least number of idle gaps.
    """
    runs: list[int] = []
    length = 0
    for s in range(1, n_slots + 2):
        if s in usable:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    runs.sort(reverse=True)
    left, used = meetings, 0
    for r in runs:
        if left <= 0:
            break
        left -= r
        used += 1
    return max(0, used - 1)


def busy_sets(
    usable: Sequence[int], count: int, runs: int, *, limit: int | None = None
) -> list[tuple[int, ...]]:
    """Every `count`-subset of the sorted `usable` slots made of exactly `runs` runs; with a
    `limit`, at most `limit` + 1 of them (enough to tell that there are more than `limit`)."""
    free = set(usable)

    def extend(
        start: int, left: int, runs_left: int, acc: tuple[int, ...]
    ) -> Iterator[tuple[int, ...]]:
        for a in range(start, usable[-1] + 1):
            if a not in free:
                continue
            length = 0
            while a + length in free and length < left:
                length += 1
                run = acc + tuple(range(a, a + length))
                if runs_left == 1:
                    if length == left:
                        yield run
                elif length < left:
                    # The next run starts after an idle slot.
                    yield from extend(a + length + 1, left - length, runs_left - 1, run)

    if not usable or not 0 < runs <= count:
        return []
    found = extend(usable[0], count, runs, ())
    return list(found if limit is None else itertools.islice(found, limit + 1))


def seats(pair_slots: Sequence[Sequence[int]], busy: Sequence[int]) -> bool:
    """Whether each pair can take its own slot of `busy`, all different (bipartite matching)."""
    taken: dict[int, int] = {}
    allowed = set(busy)

    def augment(k: int, seen: set[int]) -> bool:
        for s in pair_slots[k]:
            if s in allowed and s not in seen:
                seen.add(s)
                if s not in taken or augment(taken[s], seen):
                    taken[s] = k
                    return True
        return False

    return all(augment(k, set()) for k in range(len(pair_slots)))


def _matched_floor(usable: Sequence[int], pair_slots: Sequence[Sequence[int]], start: int) -> int:
    """Fewest breaks of someone who meets exactly these pairs, each in one of its own slots.

    From `start` runs up: the first run count with a busy set the pairs can be seated in (a
    matching) gives the breaks; sets with fewer runs were all checked and none seats them.
    """
    count = len(pair_slots)
    runs = start
    while runs < count:
        sets = busy_sets(usable, count, runs, limit=MATCH_SETS_LIMIT)
        if len(sets) > MATCH_SETS_LIMIT or any(seats(pair_slots, b) for b in sets):
            break
        runs += 1
    return runs - 1


def person_floors(prep: Prepared, freedom: Freedom) -> list[int]:
    """Per person, a lower bound on its breaks in every schedule optimal on levels 1-3.

    A person whose pairs are the same in every optimal selection needs a busy set its pairs
    can be seated in, each in a slot both sides can use (`_matched_floor`); anyone else at
    least the runs of usable slots that hold its sure count (`_person_floor`).
    """
    n_slots = prep.event.slots
    mine: dict[int, list[int]] = defaultdict(list)
    for i in freedom.maybe:
        mine[prep.tasks[i].a].append(i)
        mine[prep.tasks[i].b].append(i)
    floors = [0] * len(freedom.floor)
    for p, k in enumerate(freedom.floor):
        if k <= 1:
            continue
        low = _person_floor(n_slots, k, freedom.usable[p])
        items = mine[p]
        if all(i in freedom.sure for i in items):
            usable = sorted(freedom.usable[p])
            low = _matched_floor(usable, [prep.tasks[i].slots for i in items], low + 1)
        floors[p] = low
    return floors
