"""The pages' calls to the API are operations of openapi.yaml: a contract change that breaks a
screen fails here, without a browser.

Every call goes through common/api.js as api("METHOD", "/v1/literal/{template}", ...) or
apiAll("/v1/...") (a GET). A call whose path is not a literal (the Location of a job the
service answered with) says so with a `// contract:` comment on its line, and is the only
kind allowed to.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "service" / "web" / "static"
METHODS = ("get", "post", "put", "patch", "delete")
CLIENT = Path("common/api.js")

# api( or apiAll( as a call, not as the definition in api.js.
CALL = re.compile(r"(?<![\w.])(api|apiAll)\(")
LITERAL_API = re.compile(r"""api\(\s*(["'])([A-Z]+)\1\s*,\s*(["'])(/[^"'`]*)\3""")
LITERAL_ALL = re.compile(r"""apiAll\(\s*(["'])(/[^"'`]*)\1""")


def contract() -> set[tuple[str, str]]:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }


def calls_in(source: str) -> tuple[list[tuple[int, str, str]], list[int]]:
    """The (line, method, path) of each literal call, and the lines of unmarked other calls."""
    found: list[tuple[int, str, str]] = []
    unmarked: list[int] = []
    for match in CALL.finditer(source):
        before = source[max(0, match.start() - 30) : match.start()]
        if re.search(r"function\s+$", before):
            continue  # the definition itself
        line = source.count("\n", 0, match.start()) + 1
        rest = source[match.start() :]
        if match.group(1) == "api" and (literal := LITERAL_API.match(rest)):
            found.append((line, literal.group(2), literal.group(4)))
        elif match.group(1) == "apiAll" and (literal := LITERAL_ALL.match(rest)):
            found.append((line, "GET", literal.group(2)))
        elif "// contract:" not in source.splitlines()[line - 1]:
            unmarked.append(line)
    return found, unmarked


def scripts() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*.js") if "vendor" not in p.relative_to(STATIC).parts)


def test_the_scanner_reads_literal_calls_and_flags_the_rest() -> None:
    source = "\n".join(
        [
            'await api("GET", "/v1/events/{event_id}/schedule", { params });',
            "await api(",
            '  "PATCH",',
            '  "/v1/events/{event_id}/meetings/{meeting_id}", {});',
            'apiAll("/v1/events")',
            "api('DELETE', location) // contract: a job's Location",
            "api(method, path)",
            "export async function api(method, path) {}",
        ]
    )
    found, unmarked = calls_in(source)
    assert found == [
        (1, "GET", "/v1/events/{event_id}/schedule"),
        (2, "PATCH", "/v1/events/{event_id}/meetings/{meeting_id}"),
        (5, "GET", "/v1/events"),
    ]
    assert unmarked == [7]


def test_every_call_of_the_pages_is_an_operation_of_the_contract() -> None:
    operations = contract()
    seen: list[str] = []
    wrong: list[str] = []
    unmarked: list[str] = []
    for script in scripts():
        found, loose = calls_in(script.read_text(encoding="utf-8"))
        name = script.relative_to(STATIC)
        for line, method, path in found:
            seen.append(f"{method} {path}")
            if (method, path) not in operations:
                wrong.append(f"{name}:{line}: {method} {path}")
        # The client itself passes its callers' templates on; its callers are what is checked.
        if name != CLIENT:
            unmarked += [f"{name}:{line}" for line in loose]
    assert not wrong, "calls to operations openapi.yaml does not have:\n" + "\n".join(wrong)
    assert not unmarked, "calls without a literal method and path template:\n" + "\n".join(unmarked)
    # The console alone calls a score of operations; an empty scan would pass vacuously.
    assert len(set(seen)) >= 20, sorted(set(seen))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/events/{event_id}/checkins/status"),
        ("POST", "/v1/events/{event_id}/schedule"),
        ("PATCH", "/v1/events/{event_id}/meetings/{meeting_id}"),
        ("POST", "/v1/events/{event_id}/schedule:publish"),
        ("POST", "/v1/events/{event_id}/participants:import"),
        ("GET", "/v1/events/{event_id}/participants/{participant_id}/agenda"),
        ("GET", "/v1/events/{event_id}/report"),
    ],
)
def test_the_console_screens_are_among_the_calls_checked(method: str, path: str) -> None:
    console = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((STATIC / "console").glob("*.js"))
    )
    assert (1, method, path) in [(1, m, p) for _, m, p in calls_in(console)[0]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/me"),
        ("POST", "/v1/events/{event_id}/checkins"),
        ("GET", "/v1/events/{event_id}/participants"),
        ("GET", "/v1/events/{event_id}/agendas"),
        ("POST", "/v1/events/{event_id}/walk-ins"),
        ("GET", "/v1/events/{event_id}/participants/{participant_id}/people/{person_id}/badge.svg"),
    ],
)
def test_the_kiosk_screens_are_among_the_calls_checked(method: str, path: str) -> None:
    kiosk = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((STATIC / "kiosk").glob("*.js"))
    )
    assert (method, path) in [(m, p) for _, m, p in calls_in(kiosk)[0]]
