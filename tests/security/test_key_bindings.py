"""A key's binding is checked when the key is made: no key bound to what does not exist or
to what its routes would not enforce."""

import httpx

from tests.support import EVENT, Headers

MISSING = "00000000-0000-4000-8000-000000000000"


async def test_a_kiosk_key_for_an_event_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    refused = await client.post(
        "/v1/api-keys", json={"name": "kiosk", "role": "kiosk", "event_id": MISSING}, headers=admin
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "unknown_event"
    assert refused.json()["errors"] == [{"field": "event_id", "message": "no such event"}]
    event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    made = await client.post(
        "/v1/api-keys",
        json={"name": "kiosk", "role": "kiosk", "event_id": event["id"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json()["event_id"] == event["id"]


async def test_a_partner_or_admin_key_bound_to_an_event_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    committee = (await client.get("/v1/committees", params={"limit": 1}, headers=admin)).json()[
        "items"
    ][0]
    for body in (
        {"name": "p", "role": "partner", "committee_id": committee["id"], "event_id": event["id"]},
        {"name": "a", "role": "admin", "event_id": event["id"]},
    ):
        refused = await client.post("/v1/api-keys", json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "event_binding_refused"
        assert "only kiosk and table host keys" in refused.json()["detail"].lower()
    listed = (await client.get("/v1/api-keys", params={"limit": 500}, headers=admin)).json()
    assert not [k for k in listed["items"] if k["name"] in ("p", "a")]
