"""The engine reaches the published optimum (or proves UNSAT) on small benchmark instances."""

from pathlib import Path

import pytest

from service.solver.bmsp import solve_bmsp
from service.solver.dzn import load_dzn
from service.solver.rules import check_bmsp


@pytest.mark.parametrize(
    ("name", "optimum"),
    [("tic-12.fixed020-Forb", 1), ("tic-12.original", 0), ("tic-12.forb0003", None)],
)
def test_published_optimum(bmsp_dir: Path, name: str, optimum: int | None) -> None:
    inst = load_dzn(bmsp_dir / f"{name}.dzn")
    result = solve_bmsp(instance=inst, d=2, time_limit=20)
    if optimum is None:
        assert result.status == "infeasible"
        assert result.slots == ()
        return
    assert result.status == "optimal"
    assert result.breaks == optimum
    assert result.bound == optimum
    assert check_bmsp(instance=inst, slots=result.slots, d=2) == []
