"""Vendored browser code is exactly what its manifest lists: version, licence, SHA-256."""

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = [
    ROOT / "service" / "web" / "static" / "vendor" / "MANIFEST.json",
    ROOT / "tests" / "browser" / "vendor" / "MANIFEST.json",
]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_vendored_files_match_their_checksums_and_carry_a_licence(manifest: Path) -> None:
    listed = json.loads(manifest.read_text(encoding="utf-8"))["packages"]
    assert listed, "an empty manifest checks nothing"
    directories = set()
    for package in listed:
        assert package["version"] and package["license"], package["name"]
        assert package["integrity"].startswith("sha512-"), package["name"]
        directory = manifest.parent / package["directory"]
        directories.add(directory)
        on_disk = {p.name for p in directory.iterdir()}
        assert on_disk == set(package["sha256"]), f"{package['name']}: files differ from the list"
        assert "LICENSE" in on_disk, f"{package['name']} has no LICENSE"
        for name, digest in package["sha256"].items():
            actual = hashlib.sha256((directory / name).read_bytes()).hexdigest()
            assert actual == digest, f"{package['name']}/{name} changed since it was vendored"
    unlisted = {p for p in manifest.parent.iterdir() if p.is_dir()} - directories
    assert not unlisted, f"vendored directories without a manifest entry: {unlisted}"
