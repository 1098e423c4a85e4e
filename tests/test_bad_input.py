"""Input that generators rarely make: each is a 4xx that says what is wrong, and writes nothing.

Also the other side of the line: names in mixed scripts with emoji are real text, stored exactly.
"""

import json
from typing import Any

import httpx
import pytest

from tests.support import Headers

PROBLEM = "application/problem+json"


def committee_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "designation": "ISO/TC 998",
        "level": "international",
        "name_zh": "测试委员会",
        "name_en": "Test committee",
        "scope": "测试",
        "contact": {"name": "王小明", "email": "wang@example.org", "phone": "+86 577 5555 0001"},
        "domains": [{"domain": "iot", "weight": 1.0}],
    }
    body.update(overrides)
    return body


def as_json(**overrides: object) -> bytes:
    return json.dumps(committee_body(**overrides), ensure_ascii=False).encode()


async def committee_count(client: httpx.AsyncClient, admin: Headers) -> int:
    response = await client.get("/v1/committees", params={"limit": 500}, headers=admin)
    assert response.status_code == 200
    return len(response.json()["items"])


def problem(response: httpx.Response, status: int, code: str, *detail_words: str) -> Any:
    """The response is the problem document expected, with a detail naming what is wrong."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    for word in detail_words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    return body


GOOD = as_json()
NESTED = b'{"designation": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
# (body, status, code, words the detail must contain)
BAD_BODIES = {
    "deeply nested": (NESTED, 422, "invalid_json", ["nested too deeply"]),
    "huge": (as_json(scope="x" * (2 << 20)), 413, "payload_too_large", ["larger than"]),
    "integer beyond 64 bits": (
        GOOD.replace(b'"weight": 1.0', b'"weight": 18446744073709551616'),
        422,
        "invalid_json",
        ["18446744073709551616", "64-bit"],
    ),
    "integer of 5,000 digits": (
        GOOD.replace(b'"weight": 1.0', b'"weight": ' + b"9" * 5_000),
        422,
        "invalid_json",
        ["5000 digits"],
    ),
    "NaN": (GOOD.replace(b'"weight": 1.0', b'"weight": NaN'), 422, "invalid_json", ["NaN"]),
    "Infinity": (
        GOOD.replace(b'"weight": 1.0', b'"weight": -Infinity'),
        422,
        "invalid_json",
        ["-Infinity"],
    ),
    "duplicate keys": (
        GOOD.replace(b'"level": "international"', b'"level": "international", "level": "national"'),
        422,
        "invalid_json",
        ["'level'", "twice"],
    ),
    "invalid UTF-8": (
        GOOD.replace("测试委员会".encode(), b"\xe6\xb5\x8b\xff"),
        422,
        "invalid_json",
        ["UTF-8", "0xff"],
    ),
    "NUL character": (
        GOOD.replace(b'"name_en": "Test', b'"name_en": "Te\\u0000st'),
        422,
        "nul_character",
        ["name_en", "\\u0000"],
    ),
    "not JSON": (GOOD[:-5], 422, "invalid_json", ["not valid JSON", "line 1"]),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_json_bodies_are_refused_and_write_nothing(
    case: str, client: httpx.AsyncClient, admin: Headers
) -> None:
    body, status, code, words = BAD_BODIES[case]
    before = await committee_count(client, admin)
    headers = {**admin, "Content-Type": "application/json", "Idempotency-Key": f"bad-{case}"}
    problem(
        await client.post("/v1/committees", content=body, headers=headers), status, code, *words
    )
    assert await committee_count(client, admin) == before
    # Not even the idempotency key was taken: the same key now does the good request.
    retried = await client.post("/v1/committees", content=GOOD, headers=headers)
    assert retried.status_code == 201, retried.text


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name_en", "长" * 100_000, ["name_en", "at most 300 characters"]),
        ("scope", "x" * 100_000, ["scope", "at most 10000 characters"]),
        ("name_zh", "坏\x01名", ["name_zh", "control characters"]),
        ("name_en", "bell\x07", ["name_en", "control characters"]),
        ("scope", "line\x1b[31mred", ["scope", "control characters"]),
        ("name_zh", "半个\ud800代理", ["name_zh"]),
    ],
)
async def test_bad_strings_are_refused_by_field(
    field: str, value: str, words: list[str], client: httpx.AsyncClient, admin: Headers
) -> None:
    before = await committee_count(client, admin)
    body = json.dumps(committee_body(**{field: value})).encode()  # \\ud800 stays escaped
    response = await client.post(
        "/v1/committees", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    found = problem(response, 422, "validation_failed", *words)
    assert found["errors"][0]["field"] == field
    assert await committee_count(client, admin) == before


@pytest.mark.parametrize(
    ("url", "content_type", "body"),
    [
        ("/v1/committees", "text/plain", GOOD),
        ("/v1/committees", "application/x-www-form-urlencoded", b"designation=ISO%2FTC+998"),
        ("/v1/committees", "multipart/form-data; boundary=x", b"--x--\r\n"),
        ("/v1/committees", "text/csv", b"designation,level\nISO/TC 998,international\n"),
        ("/v1/committees:import", "application/json", GOOD),
    ],
)
async def test_wrong_content_types_are_415_naming_the_right_one(
    url: str, content_type: str, body: bytes, client: httpx.AsyncClient, admin: Headers
) -> None:
    before = await committee_count(client, admin)
    response = await client.post(url, content=body, headers={**admin, "Content-Type": content_type})
    expected = "text/csv" if url.endswith(":import") else "application/json"
    problem(response, 415, "unsupported_media_type", expected, content_type.split(";")[0])
    assert await committee_count(client, admin) == before


@pytest.mark.parametrize("url", ["/v1/committees", "/v1/committees:import"])
async def test_a_body_without_content_type_is_415_not_422(
    url: str, client: httpx.AsyncClient, admin: Headers
) -> None:
    before = await committee_count(client, admin)
    response = await client.post(url, content=GOOD, headers=admin)
    assert "content-type" not in response.request.headers
    expected = "text/csv" if url.endswith(":import") else "application/json"
    problem(response, 415, "unsupported_media_type", expected, "no Content-Type")
    assert await committee_count(client, admin) == before
    # No body at all is not a media type question: the route says what is missing.
    empty = await client.post("/v1/committees", headers=admin)
    assert empty.status_code == 422, empty.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "18446744073709551616"}, "limit"),
        ({"limit": "NaN"}, "limit"),
        ({"limit": "Infinity"}, "limit"),
        ({"limit": "9" * 5_000}, "limit"),
    ],
)
async def test_bad_numbers_in_the_query_are_422_by_parameter(
    params: dict[str, str], field: str, client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.get("/v1/committees", params=params, headers=admin)
    found = problem(response, 422, "validation_failed", field)
    assert found["errors"][0]["field"] == field


async def test_invalid_utf8_in_path_and_query_is_a_4xx_problem(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    in_query = await client.get("/v1/committees?q=%FF%FE", headers=admin)
    problem(in_query, 422, "invalid_encoding", "0xff", "offset 2")
    # Percent-encoded UTF-8, the right way, still searches.
    assert (await client.get("/v1/committees?q=%E6%A0%87", headers=admin)).status_code == 200
    in_path = await client.get("/v1/committees/%FF%FE", headers=admin)
    problem(in_path, 422, "validation_failed", "committee_id")


async def test_mixed_scripts_and_emoji_are_stored_exactly(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    names = {
        "name_zh": "標準化・标准化 技术委员会 🇨🇳",
        "name_en": "Ünïcode Тест ελληνικά עברית العربية 👩🏽‍🔬 team",
        "scope": "物联网 IoT 🛰️ — 溫州/温州, 한국어, にほんご",
    }
    before = await committee_count(client, admin)
    created = await client.post("/v1/committees", json=committee_body(**names), headers=admin)
    assert created.status_code == 201, created.text
    read = (await client.get(created.headers["location"], headers=admin)).json()
    assert {key: read[key] for key in names} == names
    assert await committee_count(client, admin) == before + 1
    found = await client.get("/v1/committees", params={"q": "👩🏽‍🔬"}, headers=admin)
    assert found.status_code == 200
    assert [c["id"] for c in found.json()["items"]] == [read["id"]]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/committees?q=%00",
        "/v1/organizations?q=a%00b",
        "/v1/committees?cursor=x%00",
        "/v1/committees/%00",
    ],
)
async def test_nul_in_path_or_query_is_422_not_a_database_error(
    url: str, client: httpx.AsyncClient, admin: Headers
) -> None:
    # PostgreSQL text cannot hold NUL: unchecked, a search for one was a 500 there.
    problem(await client.get(url, headers=admin), 422, "nul_character", "NUL", "%00")


async def test_nul_in_a_scanned_badge_is_422_and_no_scan_is_kept(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event = (await client.get("/v1/events", headers=admin)).json()["items"][0]["id"]
    scans = f"/v1/events/{event}/scans"
    before = (await client.get(scans, params={"limit": 500}, headers=admin)).json()["items"]
    response = await client.post(
        f"/v1/events/{event}/checkins", json={"badge_code": "K7Q\x00HD"}, headers=admin
    )
    problem(response, 422, "nul_character", "badge_code")
    after = (await client.get(scans, params={"limit": 500}, headers=admin)).json()["items"]
    assert after == before
