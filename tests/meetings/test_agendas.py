"""Every participant's agenda, a page at a time: the door's roster copy in a few requests."""

from typing import Any

import httpx

from tests.support import EVENT, WAIT, Headers, KeyFactory, StatementLog, key_for, parties


async def every_page(
    client: httpx.AsyncClient, url: str, headers: Headers, *, limit: int
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = await client.get(url, params=params, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def test_every_agenda_of_the_event_in_pages_as_each_participant_reads_it(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, committees, organizations = await parties(client, admin)
    url = f"/v1/events/{event_id}/agendas"
    kiosk = await make_key("kiosk")
    before = await every_page(client, url, kiosk, limit=500)
    assert before and all(i["schedule_id"] is None and i["meetings"] == [] for i in before)

    await client.post(
        f"/v1/events/{event_id}/schedule", json={"time_limit_seconds": 5}, headers=admin | WAIT
    )
    published = await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    assert published.status_code == 200, published.text
    # One meeting cancelled: it is on neither party's agenda.
    victim = (await every_page(client, f"/v1/events/{event_id}/meetings", admin, limit=1))[0]
    cancelled = await client.patch(
        f"/v1/events/{event_id}/meetings/{victim['id']}",
        json={"status": "cancelled"},
        headers={**admin, "If-Match": f'"{victim["version"]}"'},
    )
    assert cancelled.status_code == 200, cancelled.text
    # Pages of 7: a meeting's two parties are often on different pages.
    items = await every_page(client, url, kiosk, limit=7)
    roster = await every_page(client, f"/v1/events/{event_id}/participants", admin, limit=500)
    assert [i["participant_id"] for i in items] == [p["id"] for p in roster]
    assert len(roster) == len(committees) + len(organizations)
    assert {i["schedule_id"] for i in items} == {published.json()["id"]}

    # Each as the participant's own agenda lists it.
    for item in items:
        agenda = await client.get(
            f"/v1/events/{event_id}/participants/{item['participant_id']}/agenda", headers=admin
        )
        assert item["meetings"] == agenda.json()["meetings"], item["participant_id"]

    # What a door key reads of a meeting is the agenda's fields: not the meeting's weight (it
    # tells who asked for whom), notes or version.
    entries = [m for i in items for m in i["meetings"]]
    assert entries and all(
        set(m) == {"slot", "start", "end", "table", "status", "counterpart", "shared_domains"}
        for m in entries
    )
    assert any(m["shared_domains"] for m in entries)
    # Every meeting of the published schedule twice, once on each party's agenda, and nothing
    # else: the cancelled one on neither.
    meetings = await every_page(client, f"/v1/events/{event_id}/meetings", admin, limit=500)
    held = [m for m in meetings if m["status"] != "cancelled"]
    assert [m["id"] for m in meetings if m["status"] == "cancelled"] == [victim["id"]]

    def pair(slot: int, table: int, a: str, b: str) -> tuple[int, int, str, str]:
        low, high = sorted((a, b))
        return slot, table, low, high

    seen = sorted(
        pair(m["slot"], m["table"], i["participant_id"], m["counterpart"]["participant_id"])
        for i in items
        for m in i["meetings"]
    )
    expected = sorted(
        pair(
            m["slot"],
            m["table"],
            m["committee"]["participant_id"],
            m["organization"]["participant_id"],
        )
        for m in held
        for _ in range(2)
    )
    assert seen == expected
    gone = pair(
        victim["slot"],
        victim["table"],
        victim["committee"]["participant_id"],
        victim["organization"]["participant_id"],
    )
    assert gone not in seen


async def test_agendas_are_for_the_door_and_the_organizers_not_partners(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, committees, _ = await parties(client, admin)
    url = f"/v1/events/{event_id}/agendas"
    assert (await client.get(url, headers=admin)).status_code == 200
    for key in (
        await make_key("partner", **key_for(committees[0])),
        await make_key("table_host", event_id=event_id),
    ):
        refused = await client.get(url, headers=key)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    elsewhere = await client.post("/v1/events", json=EVENT, headers=admin)
    assert elsewhere.status_code == 201, elsewhere.text
    other_door = await make_key("kiosk", event_id=elsewhere.json()["id"])
    refused = await client.get(url, headers=other_door)
    assert refused.status_code == 403 and refused.json()["code"] == "event_not_allowed"
    missing = await client.get(
        "/v1/events/00000000-0000-4000-8000-000000000000/agendas", headers=admin
    )
    assert missing.status_code == 404, missing.text
    bad = await client.get(url, params={"cursor": "not-ours"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor", bad.text


async def test_a_page_of_agendas_costs_a_few_statements_however_long(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, statements: StatementLog
) -> None:
    # The kiosk asked for each participant's agenda in turn (59 requests for the demo); a page
    # reads its participants' meetings, counterparts and domains once for the whole page.
    event_id, _, _ = await parties(client, admin)
    await client.post(
        f"/v1/events/{event_id}/schedule", json={"time_limit_seconds": 5}, headers=admin | WAIT
    )
    await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    kiosk = await make_key("kiosk")
    url = f"/v1/events/{event_id}/agendas"
    counts = []
    for limit in (3, 60):
        await client.get(url, params={"limit": limit}, headers=kiosk)  # warm: key, taxonomy
        with statements.counting():
            page = await client.get(url, params={"limit": limit}, headers=kiosk)
        assert page.status_code == 200, page.text
        assert sum(len(i["meetings"]) for i in page.json()["items"]) > 0
        counts.append(len(statements.statements))
    # At most: the event, the page's participants with their parties, the published schedule's
    # id, the meetings, the counterparts on other pages, each side's domains, and the test's
    # savepoint and its release. The whole event in one page needs no counterparts read apart.
    assert max(counts) <= 9 and counts[1] <= counts[0], counts
