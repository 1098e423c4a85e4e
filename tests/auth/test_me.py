"""GET /v1/me: a key learns its own role, name and binding (the kiosk opens its event by it)."""

import httpx

from tests.support import Headers, KeyFactory


async def test_each_key_sees_its_own_role_and_binding(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event = (await client.get("/v1/events", headers=admin)).json()["items"][0]
    committee = (await client.get("/v1/committees", headers=admin)).json()["items"][0]

    kiosk = await client.get("/v1/me", headers=await make_key("kiosk", event_id=event["id"]))
    assert kiosk.status_code == 200
    assert {k: v for k, v in kiosk.json().items() if k != "key_id"} == {
        "role": "kiosk",
        "name": "test kiosk",
        "event_id": event["id"],
        "event": {
            k: event[k] for k in ("id", "name_zh", "name_en", "venue", "date", "timezone", "state")
        },
        "party": None,
        "permissions": [],
    }
    door = await make_key("kiosk", event_id=event["id"], permissions=["walk_in", "undo_checkin"])
    assert (await client.get("/v1/me", headers=door)).json()["permissions"] == [
        "undo_checkin",
        "walk_in",
    ]
    partner = await client.get(
        "/v1/me", headers=await make_key("partner", committee_id=committee["id"])
    )
    assert partner.json()["role"] == "partner" and partner.json()["event"] is None
    assert partner.json()["party"] == {"kind": "committee", "id": committee["id"]}
    me = (await client.get("/v1/me", headers=admin)).json()
    assert me["role"] == "admin" and me["party"] is None

    listed = (await client.get("/v1/api-keys", params={"limit": 500}, headers=admin)).json()
    assert kiosk.json()["key_id"] in {k["id"] for k in listed["items"]}


async def test_me_needs_a_valid_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me", headers={"Authorization": "Bearer smk_nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
