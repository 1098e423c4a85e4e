"""Compare the event-day engine with a straight CP-SAT model and a greedy baseline.

    python bench/schedule.py [--sizes demo,100x300,300x2000] [--time-limit 60] [--seed 1]
                             [--straight-limit SECONDS]

Each method's total weight is printed as a ratio of the best proven upper bound on the weight
(the engine's bound, or the straight model's when tighter), with its wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.solver.engine import greedy_schedule, schedule_event
from service.solver.problem import Attendee, Candidate, Problem, Session
from service.solver.rules import check_event

SIZES = {
    "demo": (22, 35, 8),
    "100x300": (100, 300, 12),
    "300x2000": (300, 2000, 16),
}


def make_event(*, committees: int, orgs: int, slots: int, seed: int) -> Problem:
    """A random event: committees keep their own tables, orgs have a long tail of candidates.

    Each organization gets 5 to 20 weighted candidate committees (a Pareto tail, popular
    committees drawn more often); about 3% of drawn pairs are vetoed (dropped), 3% required,
    5% confined to a session; a fifth of participants miss one to three slots.
    """
    rng = np.random.default_rng(seed)
    morning = slots // 2
    people: list[Attendee] = []
    for i in range(committees):
        gone = _gaps(rng, slots)
        people.append(Attendee(id=f"C{i + 1}", kind="committee", unavailable=gone, table=i + 1))
    for j in range(orgs):
        gone = _gaps(rng, slots)
        cap = int(rng.integers(3, min(slots, 8) + 1))
        people.append(
            Attendee(
                id=f"O{j + 1}",
                kind="organization",
                unavailable=gone,
                min_meetings=int(rng.integers(0, 3)),
                max_meetings=cap,
            )
        )
    popularity = 1.0 / np.arange(1, committees + 1) ** 0.8
    popularity /= popularity.sum()
    candidates: list[Candidate] = []
    for j in range(orgs):
        k = min(committees, 5 + min(15, int(rng.pareto(1.5) * 3)))
        chosen = rng.choice(committees, size=k, replace=False, p=popularity)
        for c in sorted(int(v) for v in chosen):
            if rng.random() < 0.03:
                continue
            session: Session = "any"
            if rng.random() < 0.05:
                session = "morning" if rng.random() < 0.5 else "afternoon"
            candidates.append(
                Candidate(
                    a=f"C{c + 1}",
                    b=f"O{j + 1}",
                    weight=int(rng.integers(1, 101)),
                    required=bool(rng.random() < 0.03),
                    session=session,
                )
            )
    return Problem(
        slots=slots,
        tables=committees,
        participants=tuple(people),
        candidates=tuple(candidates),
        morning_slots=morning,
    )


def _gaps(rng: np.random.Generator, slots: int) -> frozenset[int]:
    """One participant in five misses one to three random slots."""
    if rng.random() >= 0.2:
        return frozenset()
    n = int(rng.integers(1, 4))
    return frozenset(int(s) + 1 for s in rng.choice(slots, size=n, replace=False))


@dataclass(slots=True)
class Row:
    """One method's figures on one instance."""

    method: str
    weight: int | None
    bound: int | None
    status: str
    seconds: float
    breaks: int | None = None
    breaks_bound: int | None = None


def straight(event: Problem, *, time_limit: float) -> Row:
    """The same hard rules as one plain CP-SAT model: x[pair, slot], weighted-sum objective.

    No implied constraints, no decomposition, no hint; required pairs and min-meeting shortfall
    weigh more than all the weight together, breaks are not optimised.
    """
    started = time.monotonic()
    m = cp_model.CpModel()
    ids = {p.id: p for p in event.participants}
    morning = event.morning_slots or event.slots
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    person: dict[tuple[str, int], list[cp_model.IntVar]] = {}
    count: dict[str, list[cp_model.IntVar]] = {}
    per_slot: dict[int, list[cp_model.IntVar]] = {}
    per_table: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    big = sum(c.weight for c in event.candidates) + 1
    penalties = []
    gain = []
    for k, c in enumerate(event.candidates):
        pa, pb = ids[c.a], ids[c.b]
        if pa.table is not None and pb.table is not None:
            continue
        table = pa.table if pa.table is not None else pb.table
        lo, hi = {"morning": (1, morning), "afternoon": (morning + 1, event.slots)}.get(
            c.session, (1, event.slots)
        )
        row = []
        for s in range(lo, hi + 1):
            if s in pa.unavailable or s in pb.unavailable:
                continue
            v = m.new_bool_var(f"x{k}_{s}")
            x[k, s] = v
            row.append(v)
            person.setdefault((c.a, s), []).append(v)
            person.setdefault((c.b, s), []).append(v)
            per_slot.setdefault(s, []).append(v)
            if table is not None:
                per_table.setdefault((table, s), []).append(v)
            count.setdefault(c.a, []).append(v)
            count.setdefault(c.b, []).append(v)
        m.add(sum(row) <= 1)
        gain.append(c.weight * sum(row))
        if c.required:
            penalties.append(1 - sum(row))
    for vs in list(person.values()) + list(per_table.values()):
        m.add(sum(vs) <= 1)
    for vs in per_slot.values():
        m.add(sum(vs) <= event.tables)
    for p in event.participants:
        vs = count.get(p.id, [])
        if p.max_meetings is not None:
            m.add(sum(vs) <= p.max_meetings)
        if p.min_meetings:
            short = m.new_int_var(0, p.min_meetings, f"short_{p.id}")
            m.add(short >= p.min_meetings - sum(vs))
            penalties.append(short)
    m.maximize(sum(gain) - big * sum(penalties))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = time_limit
    code = solver.solve(m)
    seconds = time.monotonic() - started
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Row("straight CP-SAT", None, None, solver.status_name(code).lower(), seconds)
    weight = sum(event.candidates[k].weight for (k, _), v in x.items() if solver.boolean_value(v))
    # The bound covers weight only when no penalty is paid.
    bound = round(solver.best_objective_bound)
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    return Row("straight CP-SAT", weight, bound, status, seconds)


def run(name: str, event: Problem, *, time_limit: float, straight_limit: float) -> list[Row]:
    """Run the three methods on one event and check the engine's answer."""
    rows = []
    result = schedule_event(event=event, time_limit=time_limit)
    problems = check_event(event=event, meetings=result.meetings)
    if problems:
        raise SystemExit(f"{name}: engine answer rejected: {problems[0]}")
    assert result.objective is not None
    rows.append(
        Row(
            f"engine ({result.method})",
            result.objective.weight,
            result.weight_bound,
            result.status,
            result.seconds,
            result.objective.breaks,
            result.breaks_bound,
        )
    )
    rows.append(straight(event, time_limit=straight_limit))
    greedy = greedy_schedule(event=event)
    assert greedy.objective is not None
    rows.append(
        Row(
            "greedy",
            greedy.objective.weight,
            None,
            "feasible",
            greedy.seconds,
            greedy.objective.breaks,
        )
    )
    return rows


def main() -> None:
    """Generate the instances, run every method, print a markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="demo,100x300,300x2000")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--straight-limit", type=float, help="time limit of the straight model (default: the same)"
    )
    parser.add_argument("--json", metavar="OUT.json", help="also write the rows as JSON")
    args = parser.parse_args()
    straight_limit = args.straight_limit or args.time_limit
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else "unknown CPU"
    )
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {cpu}, "
        f"time limit {args.time_limit:g} s, straight {straight_limit:g} s, seed {args.seed}"
    )
    print(
        "| instance | pairs | method | weight | / best bound | status | breaks (bound) | seconds |"
    )
    print("|---|---:|---|---:|---:|---|---:|---:|")
    dump = []
    for name in args.sizes.split(","):
        committees, orgs, slots = SIZES[name]
        event = make_event(committees=committees, orgs=orgs, slots=slots, seed=args.seed)
        rows = run(name, event, time_limit=args.time_limit, straight_limit=straight_limit)
        bounds = [r.bound for r in rows if r.bound is not None]
        best = min(bounds) if bounds else None
        for r in rows:
            ratio = f"{r.weight / best:.4f}" if best and r.weight is not None else ""
            breaks = "" if r.breaks is None else str(r.breaks)
            if r.breaks_bound is not None:
                breaks += f" ({r.breaks_bound})"
            print(
                f"| {name} ({committees}x{orgs}, {slots} slots) | {len(event.candidates)} | "
                f"{r.method} | {r.weight} | {ratio} | {r.status} | {breaks} | {r.seconds:.2f} |",
                flush=True,
            )
            dump.append({"instance": name, "best_bound": best, **dataclasses.asdict(r)})
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
