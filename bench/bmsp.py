"""Solve B2B meeting scheduling benchmark instances (Bofill et al., JAIR 74, 2022) with the engine.

python bench/bmsp.py FILE.dzn [--d 2] [--time-limit S] [--solution OUT.json]
python bench/bmsp.py --all DIR [--d 2] [--time-limit S]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.solver.bmsp import BmspResult, solve_bmsp
from service.solver.dzn import load_dzn
from service.solver.rules import check_bmsp


def _solve(path: Path, *, d: int, time_limit: float) -> BmspResult:
    """Solve one file and re-check the answer with the rule checker."""
    instance = load_dzn(path)
    result = solve_bmsp(instance=instance, d=d, time_limit=time_limit)
    if result.slots:
        problems = check_bmsp(instance=instance, slots=result.slots, d=d)
        if problems:
            raise SystemExit(f"{path.name}: answer rejected: {problems[0]}")
    return result


def _one(args: argparse.Namespace) -> None:
    """Solve a single instance and print (or write) the JSON answer."""
    result = _solve(Path(args.file), d=args.d, time_limit=args.time_limit)
    answer = {"status": result.status, "breaks": result.breaks, "slot": list(result.slots)}
    text = json.dumps(answer)
    if args.solution:
        Path(args.solution).write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"bound {result.bound}, {result.seconds:.2f} s", file=sys.stderr)


def _verdict(published: str, result: BmspResult) -> str:
    """Compare with the published value: 'match' only when equal and proven."""
    if published == "UNSAT":
        return "match" if result.status == "infeasible" else "MISS"
    if published == "":
        return ""
    if result.status == "optimal" and result.breaks == int(published):
        return "match"
    if result.status == "feasible" and result.breaks == int(published):
        return "equal, unproven"
    return "MISS"


def _all(args: argparse.Namespace) -> None:
    """Solve every .dzn in a folder and print a table against the manifest."""
    folder = Path(args.all)
    published: dict[str, str] = {}
    manifest = folder / "manifest.csv"
    if manifest.exists():
        with manifest.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                published[row["file"]] = row["published_optimum_breaks_d2"]
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {cpu}, "
        f"Python {platform.python_version()}, d={args.d}, time limit {args.time_limit:g} s"
    )
    print("| instance | published | ours | bound | status | seconds | verdict |")
    print("|---|---:|---:|---:|---|---:|---|")
    files = sorted(folder.glob("*.dzn"))
    matched = 0
    for path in tqdm(files, file=sys.stderr, unit="instance"):
        result = _solve(path, d=args.d, time_limit=args.time_limit)
        pub = published.get(path.name, "")
        verdict = _verdict(pub, result)
        matched += verdict == "match"
        ours = "UNSAT" if result.status == "infeasible" else str(result.breaks)
        bound = "" if result.bound is None else str(result.bound)
        print(
            f"| {path.stem} | {pub} | {ours} | {bound} | {result.status} | "
            f"{result.seconds:.1f} | {verdict} |",
            flush=True,
        )
    print(f"\n{matched} of {len(files)} equal to the published value with proof.")


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("file", nargs="?")
    parser.add_argument("--all", metavar="DIR")
    parser.add_argument("--d", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--solution", metavar="OUT.json")
    args = parser.parse_args()
    if bool(args.file) == bool(args.all):
        parser.error("give one FILE.dzn or --all DIR")
    if args.all:
        _all(args)
    else:
        _one(args)


if __name__ == "__main__":
    main()
