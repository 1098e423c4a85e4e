"""Undo: a check-in made by mistake is reversed with a reason, kept in the history; the counts
follow and a later scan checks the badge in again."""

import httpx

from tests.support import Headers, KeyFactory, demo_participants


async def test_an_admin_undoes_a_check_in_and_a_later_scan_checks_in_afresh(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, items = await demo_participants(client, admin)
    participant = items[6]
    url = f"/v1/events/{event_id}"
    badge = participant["badge_code"]
    first = await client.post(f"{url}/checkins", json={"badge_code": badge}, headers=kiosk)
    assert first.status_code == 201
    before = (await client.get(f"{url}/checkins/status", headers=admin)).json()["total"]
    undone = await client.post(
        f"{url}/checkins:undo",
        json={"badge_code": badge.lower(), "reason": "扫错了人 wrong badge"},
        headers=admin,
    )
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert body["undone_checked_in_at"] == first.json()["checked_in_at"]
    assert body["reason"] == "扫错了人 wrong badge" and body["by"] == "test admin"
    assert body["participant"]["id"] == participant["id"]
    assert body["participant"]["checked_in_at"] is None
    after = (await client.get(f"{url}/checkins/status", headers=admin)).json()["total"]
    assert after["checked_in"] == before["checked_in"] - 1
    assert after["expected"] == before["expected"] + 1
    shown = (await client.get(f"{url}/participants/{participant['id']}", headers=admin)).json()
    assert shown["checked_in_at"] is None
    # Nothing left to undo.
    twice = await client.post(
        f"{url}/checkins:undo", json={"badge_code": badge, "reason": "again"}, headers=admin
    )
    assert twice.status_code == 409 and twice.json()["code"] == "not_checked_in"
    again = await client.post(f"{url}/checkins", json={"badge_code": badge}, headers=kiosk)
    assert again.status_code == 201, again.text
    assert again.json()["reason"] is None
    history = (await client.get(f"{url}/scans", headers=admin)).json()["items"]
    assert [(s["outcome"], s["reason"], s["kiosk_name"]) for s in history] == [
        ("checked_in", None, "test kiosk"),
        ("checkin_undone", "扫错了人 wrong badge", "test admin"),
        ("checked_in", None, "test kiosk"),
    ]
    undone_only = await client.get(
        f"{url}/scans", params={"outcome": "checkin_undone"}, headers=admin
    )
    assert [s["badge_code"] for s in undone_only.json()["items"]] == [badge]
    assert (await client.get(f"{url}/scans", params={"failed": True}, headers=admin)).json()[
        "items"
    ] == []


async def test_a_kiosk_undoes_only_when_its_key_was_given_the_permission(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, items = await demo_participants(client, admin)
    participant = items[7]
    url = f"/v1/events/{event_id}"
    plain = await make_key("kiosk")
    allowed = await make_key("kiosk", permissions=["undo_checkin"])
    scan = {"badge_code": participant["badge_code"], "nonce": "n-7"}
    first = await client.post(f"{url}/checkins", json=scan, headers=plain)
    assert first.status_code == 201
    undo = {"badge_code": participant["badge_code"], "reason": "test"}
    refused = await client.post(f"{url}/checkins:undo", json=undo, headers=plain)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "permission_required"
    partner = await make_key("partner", committee_id=participant["party"]["id"])
    assert (await client.post(f"{url}/checkins:undo", json=undo, headers=partner)).json()[
        "code"
    ] == "forbidden"
    still = (await client.get(f"{url}/participants/{participant['id']}", headers=admin)).json()
    assert still["checked_in_at"] is not None
    done = await client.post(f"{url}/checkins:undo", json=undo, headers=allowed)
    assert done.status_code == 200, done.text
    # The kiosk's retry of its scan is still answered as it was, not as an unknown badge.
    retry = await client.post(f"{url}/checkins", json=scan, headers=plain)
    assert retry.status_code == 201, retry.text
    assert retry.json()["checked_in_at"] == first.json()["checked_in_at"]
    unknown = await client.post(
        f"{url}/checkins:undo", json={"badge_code": "XXXXX-YYYYY", "reason": "x"}, headers=allowed
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_badge"


async def test_keys_are_created_with_permissions_by_api(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await client.post(
        "/v1/api-keys",
        json={"name": "Hall A kiosk 1", "role": "kiosk", "permissions": ["undo_checkin"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["permissions"] == ["undo_checkin"]
    shown = await client.get(f"/v1/api-keys/{created.json()['id']}", headers=admin)
    assert shown.json()["permissions"] == ["undo_checkin"]
    partner = await client.post(
        "/v1/api-keys",
        json={"name": "x", "role": "admin", "permissions": ["walk_in"]},
        headers=admin,
    )
    assert partner.status_code == 422 and partner.json()["code"] == "permissions_for_kiosks_only"
    unknown = await client.post(
        "/v1/api-keys",
        json={"name": "x", "role": "kiosk", "permissions": ["everything"]},
        headers=admin,
    )
    assert unknown.status_code == 422
