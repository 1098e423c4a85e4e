"""A kiosk's scan answer is its own: a nonce another device used is never a way to its answer."""

from typing import Any

import httpx

from tests.support import Headers, KeyFactory, demo_participant


def _people_contacts(answer: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(p["phone"], p["email"]) for p in answer["participant"]["people"]]


async def test_a_nonce_an_admin_used_gives_a_kiosk_its_own_answer_without_personal_data(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, one = await demo_participant(client, admin, 5)
    _, other = await demo_participant(client, admin, 6)
    url = f"/v1/events/{event_id}/checkins"
    by_admin = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "door-1"}, headers=admin
    )
    assert by_admin.status_code == 201, by_admin.text
    # The admin's answer holds personal data: what a leak would hand the kiosk.
    assert any(phone or email for phone, email in _people_contacts(by_admin.json()))

    # The same nonce with another badge: the kiosk's own scan, of its own badge.
    by_kiosk = await client.post(
        url, json={"badge_code": other["badge_code"], "nonce": "door-1"}, headers=kiosk
    )
    assert by_kiosk.status_code == 201, by_kiosk.text
    assert by_kiosk.json()["participant"]["id"] == other["id"]
    assert "idempotent-replayed" not in by_kiosk.headers
    assert all(c == (None, None) for c in _people_contacts(by_kiosk.json()))
    shown = await client.get(f"/v1/events/{event_id}/participants/{other['id']}", headers=admin)
    assert shown.json()["checked_in_at"] == by_kiosk.json()["checked_in_at"]

    # The same nonce with the admin's badge: decided afresh for the kiosk, rendered for a kiosk.
    same_badge = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "door-1"}, headers=kiosk
    )
    assert same_badge.status_code == 422, same_badge.text  # the kiosk's nonce is taken by `other`
    fresh = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "door-2"}, headers=kiosk
    )
    assert fresh.status_code == 200 and fresh.json()["reason"] == "already_checked_in"
    assert all(c == (None, None) for c in _people_contacts(fresh.json()))
    assert "@" not in fresh.text


async def test_a_nonce_another_kiosk_used_never_returns_that_kiosks_answer(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    first_kiosk, second_kiosk = await make_key("kiosk"), await make_key("kiosk")
    event_id, one = await demo_participant(client, admin, 7)
    url = f"/v1/events/{event_id}/checkins"
    first = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "shared"}, headers=first_kiosk
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "shared"}, headers=second_kiosk
    )
    # Decided for the second kiosk: the badge is already in, not "checked in now" replayed.
    assert second.status_code == 200, second.text
    assert second.json()["reason"] == "already_checked_in"
    assert second.json()["checked_in_at"] == first.json()["checked_in_at"]
    scans = (await client.get(f"/v1/events/{event_id}/scans", headers=admin)).json()["items"]
    # The second kiosk's scan is its own, kept as such.
    assert sorted(s["outcome"] for s in scans) == ["already_checked_in", "checked_in"]


async def test_an_admin_reusing_a_kiosks_nonce_gets_its_own_answer_with_personal_data(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, one = await demo_participant(client, admin, 8)
    url = f"/v1/events/{event_id}/checkins"
    by_kiosk = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "k-1"}, headers=kiosk
    )
    assert all(c == (None, None) for c in _people_contacts(by_kiosk.json()))
    by_admin = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "k-1"}, headers=admin
    )
    assert by_admin.status_code == 200 and by_admin.json()["reason"] == "already_checked_in"
    assert any(phone or email for phone, email in _people_contacts(by_admin.json()))
