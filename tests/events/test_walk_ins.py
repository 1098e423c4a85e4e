"""Walk-ins: one idempotent call at the door finds or creates the organization, registers it
with its people and returns their badges; admins, and kiosk keys of the event given walk_in."""

from typing import Any

import httpx

from service.directory.credit_code import complete_credit_code
from tests.support import EVENT, Headers, KeyFactory

NEW_COMPANY = {
    "kind": "enterprise",
    "name_zh": "温州鹿城门前新能源有限公司",
    "credit_code": complete_credit_code("91330300", "MA2H4K7Q"),
}


async def test_a_walk_in_creates_registers_and_badges_once(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    door = await make_key("kiosk", event_id=event["id"], permissions=["walk_in"])
    url = f"/v1/events/{event['id']}/walk-ins"
    body = {"organization": NEW_COMPANY, "people": [{"name": "周敏", "title": "总经理"}]}
    first = await client.post(url, json=body, headers=door)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["organization_created"] and answer["participant_created"]
    assert answer["people_created"] == 1
    [badge] = answer["badges"]
    assert badge["name"] == "周敏" and badge["badge_code"]
    participant = answer["participant"]
    assert first.headers["location"].endswith(participant["id"])
    assert participant["party"]["name_zh"] == NEW_COMPANY["name_zh"]
    assert participant["people"][0]["badge_code"] == badge["badge_code"]
    # The badge it returns checks the person in, and prints.
    svg = await client.get(badge["badge_svg"], headers=door)
    assert svg.status_code == 200 and badge["badge_code"] in svg.text
    scan = await client.post(
        f"/v1/events/{event['id']}/checkins",
        json={"badge_code": badge["badge_code"]},
        headers=door,
    )
    assert scan.status_code == 201 and scan.json()["person"]["name"] == "周敏"
    # The same call again (a retry without an Idempotency-Key) creates nothing.
    again = await client.post(url, json=body, headers=door)
    assert again.status_code == 200, again.text
    assert not again.json()["organization_created"] and not again.json()["participant_created"]
    assert again.json()["people_created"] == 0
    assert again.json()["badges"] == answer["badges"]
    organizations = (
        await client.get("/v1/organizations", params={"q": "鹿城门前"}, headers=admin)
    ).json()["items"]
    assert len(organizations) == 1
    # A colleague arriving later joins the same party, with a badge of their own.
    colleague = await client.post(
        url,
        json={"organization": {**NEW_COMPANY, "credit_code": None}, "people": [{"name": "王磊"}]},
        headers=door,
    )
    assert colleague.status_code == 201, colleague.text
    assert colleague.json()["participant"]["id"] == participant["id"]
    assert [p["name"] for p in colleague.json()["participant"]["people"]] == ["周敏", "王磊"]
    assert colleague.json()["participant"]["people"][0]["badge_code"] == badge["badge_code"]
    assert colleague.json()["badges"][0]["badge_code"] != badge["badge_code"]


async def test_a_walk_in_finds_a_registered_organization_by_its_credit_code(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    items = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
        )
    ).json()["items"]
    registered = next(p for p in items if p["party"]["kind"] != "committee")
    organization = (
        await client.get(f"/v1/organizations/{registered['party']['id']}", headers=admin)
    ).json()
    assert organization["credit_code"]
    walk_in = await client.post(
        f"/v1/events/{event['id']}/walk-ins",
        json={
            "organization": {
                "kind": organization["kind"],
                "name_zh": "名字写错了也能找到",
                "credit_code": organization["credit_code"],
            },
            "people": [{"name": "临时代表"}],
        },
        headers=admin,
    )
    assert walk_in.status_code == 201, walk_in.text
    assert not walk_in.json()["organization_created"]
    assert not walk_in.json()["participant_created"]
    assert walk_in.json()["participant"]["id"] == registered["id"]
    people = [p["name"] for p in walk_in.json()["participant"]["people"]]
    assert people == [*(p["name"] for p in registered["people"]), "临时代表"]


async def test_walk_ins_need_admin_or_a_kiosk_of_the_event_given_walk_in(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/walk-ins"
    body = {"organization": NEW_COMPANY, "people": [{"name": "周敏"}]}
    plain = await make_key("kiosk", event_id=event["id"])
    anywhere = await make_key("kiosk", permissions=["walk_in"])
    other = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    elsewhere = await make_key("kiosk", event_id=other["id"], permissions=["walk_in"])
    for headers, code in (
        (plain, "permission_required"),
        (anywhere, "permission_required"),
        (elsewhere, "event_not_allowed"),
    ):
        refused = await client.post(url, json=body, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == code
    partner = await make_key(
        "partner",
        organization_id=(await client.get("/v1/organizations", headers=admin)).json()["items"][0][
            "id"
        ],
    )
    assert (await client.post(url, json=body, headers=partner)).json()["code"] == "forbidden"
    organizations = (
        await client.get("/v1/organizations", params={"q": "鹿城门前"}, headers=admin)
    ).json()["items"]
    assert organizations == []


async def test_a_walk_in_retried_with_its_idempotency_key_gets_the_first_answer(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/walk-ins"
    body = {"organization": NEW_COMPANY, "people": [{"name": "周敏"}]}
    headers = {**admin, "Idempotency-Key": "door-1-walk-in-17"}
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    listed = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"q": "鹿城门前"}, headers=admin
        )
    ).json()["items"]
    assert [p["people"][0]["name"] for p in listed] == ["周敏"]
