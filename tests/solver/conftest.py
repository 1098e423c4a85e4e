"""Where the published B2B instances sit: shared/ beside the clone, in CI and here."""

from pathlib import Path

import pytest

BMSP = Path(__file__).resolve().parents[3] / "shared" / "bmsp"


@pytest.fixture
def bmsp_dir() -> Path:
    """The benchmark folder, or a skip saying why it is missing."""
    if not (BMSP / "manifest.csv").exists():
        pytest.skip(f"B2B benchmark instances not found at {BMSP}")
    return BMSP
