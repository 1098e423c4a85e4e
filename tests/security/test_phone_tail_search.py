"""The last four digits of a phone find a participant at the door only: kiosk and admin keys."""

from typing import Any

import httpx

from tests.support import Headers, KeyFactory, key_for


async def test_a_partner_cannot_find_participants_by_phone_tail(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/participants"
    items = (await client.get(url, params={"limit": 500}, headers=admin)).json()["items"]
    target = next(p for p in items if any(person["phone"] for person in p["people"]))
    digits = "".join(ch for ch in target["people"][0]["phone"] if ch.isdigit())
    tail = digits[-4:]
    other_party = next(p for p in items if p["party"]["id"] != target["party"]["id"])
    partner = await make_key("partner", **key_for(other_party))
    kiosk = await make_key("kiosk")

    def found(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert target["id"] in found(await client.get(url, params={"q": tail}, headers=kiosk))
    assert target["id"] in found(await client.get(url, params={"q": tail}, headers=admin))
    by_partner = found(await client.get(url, params={"q": tail}, headers=partner))
    assert target["id"] not in by_partner
    # Nobody is found by a phone tail alone: only what a name, pinyin or badge would find.
    by_phone_only = [
        p["id"]
        for p in items
        if any(tail in "".join(c for c in (x["phone"] or "") if c.isdigit()) for x in p["people"])
    ]
    assert not set(by_partner) & set(by_phone_only)
