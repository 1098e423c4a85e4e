"""The .dzn reader on the published files and on malformed text."""

from pathlib import Path

import pytest

from service.solver.dzn import DznError, load_dzn, parse_dzn

TINY = """
nBusiness = 3; nMeetings = 2; nTables = 1; nTotalSlots = 3; nMorningSlots = 2;
requested = [|1, 2,1, |2, 3,3, |];
meetingsxBusiness = [{1,2}, {1,2,3}, {1,3}];
nMeetingsBusiness = [1,2,1];
fixed = [0,3];
forbidden = [{0}, {}, {1,2}];
precedences = [{}, {}];
"""


def test_smallest_instance_reads_in_full(bmsp_dir: Path) -> None:
    inst = load_dzn(bmsp_dir / "tic-12.original.dzn")
    assert (inst.n_business, inst.n_meetings, inst.n_tables) == (42, 125, 21)
    assert (inst.n_slots, inst.n_morning) == (8, 8)
    assert inst.requested[0] == (1, 8, 3)
    assert inst.requested[-1] == (42, 30, 3)
    assert inst.fixed == (0,) * 125
    assert all(not s for s in inst.forbidden)
    # The file lists 21 empty precedence sets for 125 meetings; the reader pads them.
    assert len(inst.precedences) == 125
    assert len(inst.meetings_of(1)) == 8
    assert len(inst.meetings_of(37)) == 0


def test_forbidden_and_fixed_variants(bmsp_dir: Path) -> None:
    forb = load_dzn(bmsp_dir / "tic-12.forb0003.dzn")
    assert forb.forbidden[0] == frozenset({4})
    fixed = load_dzn(bmsp_dir / "tic-12.fixed020-Forb.dzn")
    assert fixed.fixed[:3] == (0, 4, 0)
    assert fixed.allowed_slots(2) == [4]


def test_every_published_file_parses(bmsp_dir: Path) -> None:
    files = sorted(bmsp_dir.glob("*.dzn"))
    assert len(files) == 60
    for f in files:
        assert load_dzn(f).n_meetings > 0


def test_tiny_text_semantics() -> None:
    inst = parse_dzn(TINY)
    assert inst.forbidden == (frozenset(), frozenset(), frozenset({1, 2}))
    assert inst.allowed_slots(1) == [1, 2]
    assert inst.allowed_slots(2) == [3]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("nMeetingsBusiness = [1,2,1]", "nMeetingsBusiness = [1,1,1]", "nMeetingsBusiness"),
        ("{1,3}]", "{1,2}]", "meetingsxBusiness"),
        ("|2, 3,3, |", "|2, 3,4, |", "session"),
        ("fixed = [0,3]", "fixed = [0]", "fixed"),
        ("nMeetings = 2", "nMeetings = 3", "nMeetings"),
        ("nTables = 1;", "nTables = [1;", "unterminated"),
    ],
)
def test_malformed_text_is_rejected(old: str, new: str, message: str) -> None:
    assert old in TINY
    with pytest.raises(DznError, match=message):
        parse_dzn(TINY.replace(old, new))
