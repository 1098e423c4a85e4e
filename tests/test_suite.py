"""The suite's own machinery: which tests xdist keeps together."""

from tests.conftest import ONE_WORKER, unit_of_work
from tests.support import REPO


def test_every_group_kept_on_one_worker_names_tests_that_exist() -> None:
    # A module renamed or moved would otherwise leave its group silently spread again.
    for prefix in ONE_WORKER:
        assert (REPO / prefix).exists(), prefix


def test_a_group_is_one_unit_of_work_and_every_other_test_its_own() -> None:
    kiosk = "tests/browser/test_kiosk.py::test_first_scan_green_repeat_amber_unknown_red"
    console = "tests/browser/test_console.py::test_the_grid_works_from_the_keyboard"
    assert unit_of_work(kiosk) == unit_of_work(console) == "browser"
    assert unit_of_work("tests/test_workers.py::test_a_race[4]") == "several_workers"
    other = "tests/test_cli.py::test_openapi_command_writes_the_contract"
    assert unit_of_work(other) == other
