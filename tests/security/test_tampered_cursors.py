"""A cursor the API did not make is a 422 problem, never a 500."""

import base64
import json
from typing import Any

import httpx
import pytest

from tests.support import Headers


def packed(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TAMPERED = {
    "an integer for the id": packed(json.dumps(["2025-01-01T00:00:00+00:00", 5])),
    "a time without its offset": packed(
        json.dumps(["2025-01-01T00:00:00", "00000000-0000-4000-8000-000000000000"])
    ),
    "nested three thousand deep": packed("[" * 3000),
    "raw brackets": "[" * 3000,
    "an object": packed(json.dumps({"a": 1, "b": 2})),
    "null items": packed(json.dumps([None, None])),
    "one item": packed(json.dumps(["x"])),
    "a string": packed(json.dumps("x")),
    "a huge number": packed("[" + "9" * 5000 + ", 1]"),
    "not base64": "!!!",
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe[").decode(),
    "very long": "A" * 5_000,
    "booleans": packed(json.dumps([True, False])),
}


@pytest.mark.parametrize("cursor", TAMPERED.values(), ids=TAMPERED.keys())
async def test_a_tampered_cursor_is_a_422_problem_on_listings_and_searches(
    client: httpx.AsyncClient, admin: Headers, cursor: str, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    for url, params in (
        ("/v1/committees", {}),
        (f"/v1/events/{event['id']}/participants", {}),
        (f"/v1/events/{event['id']}/participants", {"q": "wz"}),
    ):
        response = await client.get(url, params={**params, "cursor": cursor}, headers=admin)
        assert response.status_code == 422, (url, params, response.text[:300])
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] in ("invalid_cursor", "validation_failed")
