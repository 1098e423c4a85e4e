"""Badges per person: each person's badge checks that person in, a party has arrived with its
first person, and counts, agendas, search and badges follow people."""

from typing import Any

import httpx

from tests.support import Headers, KeyFactory, demo_participants


async def _party_of_two(
    client: httpx.AsyncClient, admin: Headers, skip: int = 0
) -> tuple[str, dict[str, Any]]:
    event_id, items = await demo_participants(client, admin)
    parties = [p for p in items if len(p["people"]) >= 2]
    return event_id, parties[skip]


def _side(participant: dict[str, Any]) -> str:
    return "committee" if participant["party"]["kind"] == "committee" else "organization"


async def test_every_person_has_a_badge_and_the_party_badge_is_the_first_persons(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    items = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
        )
    ).json()["items"]
    codes = [person["badge_code"] for p in items for person in p["people"]]
    assert len(codes) == 88 and len(set(codes)) == 88 and all(codes)
    assert all(p["badge_code"] == p["people"][0]["badge_code"] for p in items)


async def test_each_persons_badge_checks_in_that_person_and_the_party_with_the_first(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, party = await _party_of_two(client, admin)
    first, second = party["people"][0], party["people"][1]
    url = f"/v1/events/{event_id}"
    before = (await client.get(f"{url}/checkins/status", headers=kiosk)).json()
    assert before["people"] == {"registered": 88, "checked_in": 0, "expected": 88}
    assert before["total"]["checked_in"] == 0
    scanned = await client.post(
        f"{url}/checkins", json={"badge_code": second["badge_code"]}, headers=kiosk
    )
    assert scanned.status_code == 201, scanned.text
    body = scanned.json()
    assert body["person"]["id"] == second["id"] and body["person"]["name"] == second["name"]
    assert body["person"]["checked_in_at"] == body["checked_in_at"]
    assert body["person"]["phone"] is None
    assert body["participant"]["id"] == party["id"]
    assert body["participant"]["checked_in_at"] == body["checked_in_at"]
    shown = {p["id"]: p for p in body["participant"]["people"]}
    assert shown[first["id"]]["checked_in_at"] is None  # the colleague has not come yet
    middle = (await client.get(f"{url}/checkins/status", headers=kiosk)).json()
    assert middle["total"]["checked_in"] == 1  # the party has arrived with its first person
    assert middle["people"] == {"registered": 88, "checked_in": 1, "expected": 87}
    kind = party["party"]["kind"]
    assert middle["people_by_kind"][kind]["checked_in"] == 1
    # The colleague's own badge (the party's) is a first check-in of its own, not a repeat.
    colleague = await client.post(
        f"{url}/checkins", json={"badge_code": first["badge_code"]}, headers=kiosk
    )
    assert colleague.status_code == 201, colleague.text
    assert colleague.json()["person"]["id"] == first["id"]
    assert colleague.json()["participant"]["checked_in_at"] == body["checked_in_at"]
    after = (await client.get(f"{url}/checkins/status", headers=kiosk)).json()
    assert after["total"]["checked_in"] == 1
    assert after["people"]["checked_in"] == 2
    # Undoing one person's check-in leaves the party arrived with the other.
    undone = await client.post(
        f"{url}/checkins:undo",
        json={"badge_code": second["badge_code"], "reason": "wrong person"},
        headers=admin,
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["person"]["id"] == second["id"]
    assert undone.json()["participant"]["checked_in_at"] == colleague.json()["checked_in_at"]
    last = (await client.get(f"{url}/checkins/status", headers=kiosk)).json()
    assert last["total"]["checked_in"] == 1 and last["people"]["checked_in"] == 1


async def test_the_agenda_shows_who_of_the_party_is_present(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, party = await _party_of_two(client, admin, 1)
    url = f"/v1/events/{event_id}"
    second = party["people"][1]
    await client.post(f"{url}/checkins", json={"badge_code": second["badge_code"]}, headers=kiosk)
    agenda = await client.get(f"{url}/participants/{party['id']}/agenda", headers=kiosk)
    people = agenda.json()["people"]
    assert [p["name"] for p in people] == [p["name"] for p in party["people"]]
    assert people[0]["checked_in_at"] is None and people[1]["checked_in_at"] is not None
    page = await client.get(
        f"{url}/participants/{party['id']}/agenda", headers={**kiosk, "Accept": "text/html"}
    )
    assert f"{second['name']} ✓ 已到 present" in page.text
    assert f"{party['people'][0]['name']} ✓" not in page.text


async def test_a_persons_badge_finds_them_and_prints_for_them_alone(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, party = await _party_of_two(client, admin, 2)
    url = f"/v1/events/{event_id}/participants"
    second = party["people"][1]
    found = await client.get(url, params={"q": second["badge_code"].lower()}, headers=kiosk)
    assert [p["id"] for p in found.json()["items"]] == [party["id"]]
    badge = f"{url}/{party['id']}/people/{second['id']}/badge.svg"
    svg = await client.get(badge, headers=kiosk)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert second["name"] in svg.text and second["badge_code"] in svg.text
    png = await client.get(badge.replace(".svg", ".png"), headers=kiosk)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    committees = (await client.get("/v1/committees", headers=admin)).json()["items"]
    other = next(c for c in committees if c["id"] != party["party"]["id"])
    stranger = await make_key("partner", committee_id=other["id"])
    assert (await client.get(badge, headers=stranger)).status_code == 404
    own_key = await make_key("partner", **{f"{_side(party)}_id": party["party"]["id"]})
    assert (await client.get(badge, headers=own_key)).status_code == 200
    missing = f"{url}/{party['id']}/people/00000000-0000-4000-8000-000000000000/badge.svg"
    assert (await client.get(missing, headers=kiosk)).status_code == 404


async def test_people_listed_again_keep_their_badges(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event_id, party = await _party_of_two(client, admin, 3)
    url = f"/v1/events/{event_id}/participants/{party['id']}"
    first, second = party["people"][0], party["people"][1]
    people = [
        {"name": second["name"], "title": "新职务"},
        {"name": first["name"], "title": first["title"]},
        {"name": "新来的"},
    ]
    changed = await client.patch(
        url, json={"people": people}, headers={**admin, "If-Match": f'"{party["version"]}"'}
    )
    assert changed.status_code == 200, changed.text
    now = changed.json()["people"]
    assert [p["badge_code"] for p in now[:2]] == [second["badge_code"], first["badge_code"]]
    assert [p["id"] for p in now[:2]] == [second["id"], first["id"]]
    assert now[0]["title"] == "新职务"
    assert now[2]["badge_code"] not in (first["badge_code"], second["badge_code"])
    # The party's badge follows its first person.
    assert changed.json()["badge_code"] == second["badge_code"]


async def test_a_checked_in_person_taken_off_the_list_leaves_the_party_arrived(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, party = await _party_of_two(client, admin, 4)
    url = f"/v1/events/{event_id}"
    first, second = party["people"][0], party["people"][1]
    first_scan = {"badge_code": second["badge_code"], "nonce": "before-the-list-changed"}
    scan = await client.post(f"{url}/checkins", json=first_scan, headers=kiosk)
    assert scan.status_code == 201
    before = (await client.get(f"{url}/checkins/status", headers=admin)).json()
    changed = await client.patch(
        f"{url}/participants/{party['id']}",
        json={"people": [{"name": first["name"]}]},
        headers={**admin, "If-Match": f'"{party["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["checked_in_at"] == scan.json()["checked_in_at"]
    assert [p["name"] for p in changed.json()["people"]] == [first["name"]]
    after = (await client.get(f"{url}/checkins/status", headers=admin)).json()
    assert after["total"] == before["total"]
    assert after["people"]["registered"] == before["people"]["registered"] - 1
    assert after["people"]["checked_in"] == before["people"]["checked_in"] - 1
    gone = await client.post(
        f"{url}/checkins", json={"badge_code": second["badge_code"]}, headers=kiosk
    )
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_badge"
    # The kiosk resending its first scan (same nonce) finds nobody either, on either database.
    resent = await client.post(f"{url}/checkins", json=first_scan, headers=kiosk)
    assert resent.status_code == 404 and resent.json()["code"] == "unknown_badge", resent.text
