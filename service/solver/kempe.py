"""Kempe-chain local search on a slot colouring: fewer idle gaps, the same meetings.

The placed tasks colour a conflict graph: two tasks conflict when they share a person or a table.
For two slots a and b, the tasks sitting in a or b form components (every person and table holds
at most one task per slot, so a component is a path or a cycle through people, with tables as
extra links). Swapping a and b on a whole component keeps every person and table at most once per
slot; what a swap can break is checked before it is applied: each task must be allowed in its new
slot (session, fixed slot, availability; a locked task allows only its own slot, so it never
moves) and each slot's capacity must hold.

A person's meetings in a and b all lie in the same component, so after a swap its busy set is its
old one with a and b exchanged: breaks change only for the component's people and are counted on
bit masks. Moves are chosen at random (seeded) from the tasks of people with breaks and accepted
by simulated annealing on the total breaks; the best schedule seen is returned, so the answer
never has more breaks than the input. In rebuild mode a move that takes a previous meeting off
its previous slot is refused unless it puts as many others back (changes never grow).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.solver.slotting import Task

# Annealing temperatures (a break costs 1) and the share of moves aimed at someone's gap.
T_START = 0.6
T_END = 0.02
FOCUS = 0.8


def mask_breaks(mask: int) -> int:
    """Idle gaps of a person busy in the slots set in `mask`: runs of ones minus one."""
    if not mask:
        return 0
    return (mask & ~(mask << 1)).bit_count() - 1


@dataclass(slots=True)
class Stats:
    """What one search did: moves tried, moves applied, breaks before and after, and whether
    the wall-clock guard ended it before its moves."""

    tried: int = 0
    applied: int = 0
    start: int = 0
    best: int = 0
    cut: bool = False


def improve_breaks(
    tasks: Sequence[Task],
    *,
    n_people: int,
    capacity: Sequence[int],
    slot_of: Mapping[int, int],
    previous: Mapping[int, int] | None = None,
    seed: int = 0,
    moves: int = 200_000,
    seconds: float = 1.0,
    floor: int = 0,
    stats: Stats | None = None,
) -> dict[int, int]:
    """A schedule of the same tasks with no more breaks (and no more changes from `previous`).

    `slot_of` maps placed task -> slot (slots 1-based, capacity[s - 1]); it must obey the hard
    rules. Stops after `moves` tried moves (or on reaching `floor`, a proven lower bound on the
    breaks): the answer depends on the seed only. `seconds` only guards: past it the search
    stops early (`Stats.cut`).
    """
    rng = random.Random(seed)
    previous = previous or {}
    n_slots = len(capacity)
    placed = sorted(slot_of)
    order = list(slot_of)  # the answer keeps the input's key order
    # Lists indexed by task (-1, () and an empty set for tasks not placed): the hot loop reads
    # them on every move, and a list is faster to index than a dict.
    slot = [-1] * len(tasks)
    for i, s in slot_of.items():
        slot[i] = s
    # Resources: people 0..n_people-1, then one per table.
    tables = sorted({tb for i in placed if (tb := tasks[i].table) is not None})
    table_res = {t: n_people + k for k, t in enumerate(tables)}
    res_of: list[tuple[int, ...]] = [()] * len(tasks)
    for i in placed:
        t = tasks[i]
        own = (t.a, t.b) if t.table is None else (t.a, t.b, table_res[t.table])
        res_of[i] = own
    occupant: list[list[int]] = [[-1] * (n_slots + 1) for _ in range(n_people + len(tables))]
    count = [0] * (n_slots + 1)
    mask = [0] * n_people
    mine: list[list[int]] = [[] for _ in range(n_people)]
    for i in placed:
        s = slot[i]
        for r in res_of[i]:
            occupant[r][s] = i
        count[s] += 1
        t = tasks[i]
        mask[t.a] |= 1 << s
        mask[t.b] |= 1 << s
        mine[t.a].append(i)
        mine[t.b].append(i)
    allowed: list[frozenset[int]] = [frozenset()] * len(tasks)
    for i in placed:
        allowed[i] = frozenset(tasks[i].slots)
    movable = [i for i in placed if len(allowed[i]) > 1]
    total = sum(mask_breaks(m) for m in mask)
    changes = sum(1 for i, was in previous.items() if slot[i] != was)
    best_total, best_changes = total, changes
    best = {i: slot[i] for i in order}
    if stats is not None:
        stats.start = total
    if not movable or total <= floor:
        if stats is not None:
            stats.best = total
        return best
    # Temperature falls geometrically from t0 to t1 over the move budget.
    t0, t1 = T_START, T_END
    deadline = time.monotonic() + seconds
    tried = applied = 0
    temp = t0
    chain: list[int] = []
    cut = False
    # The hot loop reads locals, lists and stamps rather than attributes, dicts and a set per
    # move: the same moves (same seed, same answer) in 22% less time (demo: 0.22 s, was 0.28 s).
    randrange, uniform = rng.randrange, rng.random
    exp = math.exp
    task_a = [t.a for t in tasks]
    task_b = [t.b for t in tasks]
    n_movable = len(movable)
    seen = [0] * len(tasks)
    met = [0] * n_people
    stamp = 0
    for step in range(moves):
        if step & 255 == 0:
            if time.monotonic() > deadline:
                cut = True
                break
            temp = t0 * (t1 / t0) ** (step / moves)
        tried += 1
        # Mostly a task of someone with a gap, sometimes any task (to leave plateaus).
        i = movable[randrange(n_movable)]
        if uniform() < FOCUS:
            ta, tb = task_a[i], task_b[i]
            p = ta if uniform() < 0.5 else tb
            m = mask[p]
            if (m & ~(m << 1)).bit_count() <= 1:
                p = tb if p == ta else ta
                m = mask[p]
                if (m & ~(m << 1)).bit_count() <= 1:
                    continue
            # Move one of p's meetings next to another of p's meetings, or into a gap.
            theirs = mine[p]
            i = theirs[randrange(len(theirs))]
            here = allowed[i]
            if len(here) < 2:
                continue
            near = ((m << 1) | (m >> 1)) & ~m
            options = [s for s in here if near >> s & 1]
            if not options:
                continue
            b = options[randrange(len(options))]
        else:
            opts = [s for s in allowed[i] if s != slot[i]]
            b = opts[randrange(len(opts))]
        a = slot[i]
        if a == b:
            continue
        # The component of i among the tasks in slots a and b.
        chain.clear()
        chain.append(i)
        # Stamps instead of a set per move: a task or person is seen when it carries this one.
        stamp += 1
        seen[i] = stamp
        ok = True
        k = in_a = 0
        while k < len(chain):
            j = chain[k]
            k += 1
            if slot[j] == a:
                in_a += 1
                other = b
            else:
                other = a
            if other not in allowed[j]:
                ok = False
                break
            for r in res_of[j]:
                o = occupant[r][other]
                if o >= 0 and seen[o] != stamp:
                    seen[o] = stamp
                    chain.append(o)
        if not ok:
            continue
        in_b = len(chain) - in_a
        if count[a] - in_a + in_b > capacity[a - 1] or count[b] - in_b + in_a > capacity[b - 1]:
            continue
        change = 0
        if previous:
            for j in chain:
                was = previous.get(j)
                if was is not None:
                    new = b if slot[j] == a else a
                    change += (slot[j] == was) - (new == was)
            if change > 0:
                continue
        bit_a, bit_b = 1 << a, 1 << b
        both = bit_a | bit_b
        delta = 0
        swapped: list[tuple[int, int]] = []
        for j in chain:
            for p in (task_a[j], task_b[j]):
                if met[p] == stamp:
                    continue
                met[p] = stamp
                m = mask[p]
                if (m & bit_a == 0) == (m & bit_b == 0):
                    continue
                n = m ^ both
                # Breaks are runs of ones minus one; a difference needs no minus ones.
                delta += (n & ~(n << 1)).bit_count() - (m & ~(m << 1)).bit_count()
                swapped.append((p, n))
        if delta > 0 and uniform() >= exp(-delta / temp):
            continue
        # Apply: clear the old places first, then set the new ones.
        for j in chain:
            sj = slot[j]
            for r in res_of[j]:
                if occupant[r][sj] == j:
                    occupant[r][sj] = -1
        for j in chain:
            sj = b if slot[j] == a else a
            slot[j] = sj
            for r in res_of[j]:
                occupant[r][sj] = j
        count[a], count[b] = count[a] - in_a + in_b, count[b] - in_b + in_a
        for p, n in swapped:
            mask[p] = n
        total += delta
        changes += change
        applied += 1
        if (changes, total) < (best_changes, best_total):
            best_total, best_changes = total, changes
            best = {i: slot[i] for i in order}
            if total <= floor:
                break
    if stats is not None:
        stats.tried, stats.applied, stats.best, stats.cut = tried, applied, best_total, cut
    return best
