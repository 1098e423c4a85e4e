"""The rule checker rejects hand-made broken schedules, each for the right reason."""

import pytest

from service.solver.dzn import parse_dzn
from service.solver.rules import breaks_of, check_bmsp, participant_breaks

# Attendee 1 meets 2, 3, 4 and 5; participant 6 meets 2 in the afternoon only.
TEXT = """
nBusiness = 6; nMeetings = 5; nTables = 2; nTotalSlots = 6; nMorningSlots = 3;
requested = [|1, 2,3, |1, 3,3, |1, 4,1, |1, 5,3, |6, 2,2, |];
meetingsxBusiness = [{1,2,3,4,5}, {1,2,6}, {1,3}, {1,4}, {1,5}, {1,6}];
nMeetingsBusiness = [4,2,1,1,1,1];
fixed = [0,0,0,0,5];
forbidden = [{0}, {}, {}, {}, {6}, {}];
precedences = [{}, {}, {}, {}, {}];
"""
INST = parse_dzn(TEXT)
GOOD = [1, 2, 3, 4, 5]


def test_breaks_count_runs_of_empty_slots() -> None:
    assert breaks_of([]) == 0
    assert breaks_of([3]) == 0
    assert breaks_of([1, 2, 3]) == 0
    assert breaks_of([1, 3]) == 1
    assert breaks_of([1, 4, 5, 8]) == 2
    assert participant_breaks(instance=INST, slots=[1, 2, 3, 6, 5])[0] == 1


def test_valid_schedule_passes() -> None:
    assert check_bmsp(instance=INST, slots=GOOD, d=2) == []


@pytest.mark.parametrize(
    ("slots", "rule"),
    [
        ([1, 1, 3, 4, 5], "clash"),
        ([1, 2, 3, 2, 5], "clash"),
        ([1, 2, 4, 5, 5], "session"),
        ([1, 2, 3, 6, 5], "forbidden"),
        ([1, 2, 3, 4, 6], "fixed"),
        ([1, 2, 3, 4], "length"),
        ([0, 2, 3, 4, 5], "slot_range"),
    ],
)
def test_broken_schedules_are_rejected(slots: list[int], rule: str) -> None:
    rules = {v.rule for v in check_bmsp(instance=INST, slots=slots, d=2)}
    assert rule in rules


def test_too_many_tables() -> None:
    text = TEXT.replace("nTables = 2", "nTables = 1")
    inst = parse_dzn(text)
    # Meetings 2 (1-3) and 5 (6-2) share slot 5 with one table.
    problems = check_bmsp(instance=inst, slots=[1, 5, 3, 4, 5], d=None)
    assert [v.rule for v in problems] == ["tables"]
    assert "slot 5 holds 2 meetings for 1 tables" in problems[0].detail


def test_unfair_breaks_are_rejected() -> None:
    # Attendee 1 meets in slots 1, 2, 3 and 6: one break, everyone else none.
    slots = [1, 6, 3, 2, 5]
    assert participant_breaks(instance=INST, slots=slots)[0] == 1
    assert check_bmsp(instance=INST, slots=slots, d=0) != []
    assert [v.rule for v in check_bmsp(instance=INST, slots=slots, d=0)] == ["fairness"]
    assert check_bmsp(instance=INST, slots=slots, d=1) == []
