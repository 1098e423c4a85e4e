"""Every API call the pages make names an operation of openapi.yaml, so a contract change that
breaks a screen fails here. The pages call the API only through common/api.js, with a literal
method and path template: api("POST", "/v1/events/{event_id}/checkins", ...)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "service" / "web" / "static"
CLIENT = STATIC / "common" / "api.js"
METHODS = "GET|POST|PATCH|DELETE|PUT"
CALL = re.compile(r"\b(api|apiAll)\(")
LITERAL_API = re.compile(rf'\bapi\(\s*"({METHODS})"\s*,\s*"([^"]+)"')
LITERAL_ALL = re.compile(r'\bapiAll\(\s*"([^"]+)"')


def _page_scripts() -> list[Path]:
    return [p for p in STATIC.rglob("*.js") if "vendor" not in p.parts and p != CLIENT]


def _calls() -> list[tuple[Path, str, str]]:
    found = []
    for script in _page_scripts():
        text = script.read_text(encoding="utf-8")
        # A call to a Location the service answered with (a build job's) is marked as such.
        text = "\n".join(line for line in text.splitlines() if "// contract:" not in line)
        calls = len(CALL.findall(text))
        literal = [(m, p) for m, p in LITERAL_API.findall(text)]
        literal += [("GET", p) for p in LITERAL_ALL.findall(text)]
        rel = script.relative_to(STATIC)
        assert len(literal) == calls, f"{rel}: every api()/apiAll() call needs a literal path"
        found += [(rel, method, path) for method, path in literal]
    return found


def test_every_page_call_is_an_operation_of_the_contract() -> None:
    contract = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))["paths"]
    calls = _calls()
    assert len(calls) >= 5, "the kiosk alone makes more calls than this: is the pattern stale?"
    for script, method, path in calls:
        path_only = path.split("?")[0]
        assert path_only in contract, f"{script}: {method} {path} is not in openapi.yaml"
        assert method.lower() in contract[path_only], f"{script}: {method} {path} is not allowed"


def test_the_kiosk_calls_what_it_needs() -> None:
    kiosk = {(m, p) for s, m, p in _calls() if s.parts[0] == "kiosk"}
    assert {
        ("GET", "/v1/me"),
        ("POST", "/v1/events/{event_id}/checkins"),
        ("GET", "/v1/events/{event_id}/participants"),
        ("GET", "/v1/events/{event_id}/participants/{participant_id}/agenda"),
        ("POST", "/v1/events/{event_id}/walk-ins"),
        ("GET", "/v1/events/{event_id}/participants/{participant_id}/people/{person_id}/badge.svg"),
    } <= kiosk
