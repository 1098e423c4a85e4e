"""The kiosk: one check-in per badge, replayable nonces, offline uploads, failures kept."""

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import OutboxEvent
from tests.support import EVENT, Headers, KeyFactory, Workers, demo_participant


async def test_first_scan_201_then_200_with_the_original_time(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, participant = await demo_participant(client, admin)
    url = f"/v1/events/{event_id}/checkins"
    first = await client.post(url, json={"badge_code": participant["badge_code"]}, headers=kiosk)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["reason"] is None
    assert body["participant"]["id"] == participant["id"]
    assert body["participant"]["people"][0]["phone"] is None  # the kiosk sees no personal data
    assert body["agenda"] == []
    repeat = await client.post(
        url, json={"badge_code": participant["badge_code"].lower()}, headers=kiosk
    )
    assert repeat.status_code == 200
    assert repeat.json()["reason"] == "already_checked_in"
    assert repeat.json()["checked_in_at"] == body["checked_in_at"]
    shown = (
        await client.get(f"/v1/events/{event_id}/participants/{participant['id']}", headers=admin)
    ).json()
    assert shown["checked_in_at"] == body["checked_in_at"]


async def test_repeated_nonce_returns_the_first_answer(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, participant = await demo_participant(client, admin, 1)
    url = f"/v1/events/{event_id}/checkins"
    scan = {"badge_code": participant["badge_code"], "nonce": "kiosk-3-000217"}
    first = await client.post(url, json=scan, headers=kiosk)
    again = await client.post(url, json=scan, headers=kiosk)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    failed = {"badge_code": "NOPE0-00000", "nonce": "kiosk-3-000218"}
    assert (await client.post(url, json=failed, headers=kiosk)).status_code == 404
    assert (await client.post(url, json=failed, headers=kiosk)).json()["reason"] == "unknown_badge"
    scans = (await client.get(f"/v1/events/{event_id}/scans", headers=admin)).json()["items"]
    assert len(scans) == 2  # replays are answers, not new scans


async def test_unknown_badge_and_closed_event_are_refused_and_kept(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, participant = await demo_participant(client, admin, 2)
    url = f"/v1/events/{event_id}/checkins"
    unknown = await client.post(url, json={"badge_code": "XXXXX-YYYYY"}, headers=kiosk)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["reason"] == "unknown_badge" and unknown.json()["code"] == "unknown_badge"
    draft = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    closed = await client.post(
        f"/v1/events/{draft['id']}/checkins",
        json={"badge_code": participant["badge_code"]},
        headers=kiosk,
    )
    assert closed.status_code == 409 and closed.json()["reason"] == "event_not_open"
    failed = (
        await client.get(f"/v1/events/{event_id}/scans", params={"failed": True}, headers=admin)
    ).json()["items"]
    assert [(s["badge_code"], s["outcome"], s["kiosk_name"]) for s in failed] == [
        ("XXXXX-YYYYY", "unknown_badge", "test kiosk")
    ]
    draft_scans = (await client.get(f"/v1/events/{draft['id']}/scans", headers=admin)).json()[
        "items"
    ]
    assert [s["outcome"] for s in draft_scans] == ["event_not_open"]
    assert (
        await client.get(f"/v1/events/{event_id}/scans", params={"failed": False}, headers=admin)
    ).json()["items"] == []


async def test_unknown_event_and_a_key_for_another_event_are_refused_before_any_scan(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, participant = await demo_participant(client, admin, 3)
    other = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    elsewhere = await make_key("kiosk", event_id=other["id"])
    scan = {"badge_code": participant["badge_code"], "nonce": "kiosk-9-000001"}
    refused = await client.post(f"/v1/events/{event_id}/checkins", json=scan, headers=elsewhere)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "event_not_allowed"
    kiosk = await make_key("kiosk")
    missing = "00000000-0000-4000-8000-000000000000"
    unknown = await client.post(f"/v1/events/{missing}/checkins", json=scan, headers=kiosk)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    scans = (await client.get(f"/v1/events/{event_id}/scans", headers=admin)).json()["items"]
    assert scans == []
    # The refused nonce was not taken: the right kiosk's scan with it checks the badge in.
    accepted = await client.post(f"/v1/events/{event_id}/checkins", json=scan, headers=kiosk)
    assert accepted.status_code == 201, accepted.text


async def test_offline_upload_keeps_scan_time_whatever_the_order(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, participant = await demo_participant(client, admin, 3)
    url = f"/v1/events/{event_id}/checkins"
    later = await client.post(
        url,
        json={"badge_code": participant["badge_code"], "scanned_at": "2025-09-23T08:50:00+08:00"},
        headers=kiosk,
    )
    assert later.status_code == 201
    assert later.json()["checked_in_at"] == "2025-09-23T00:50:00Z"
    earlier = await client.post(
        url,
        json={"badge_code": participant["badge_code"], "scanned_at": "2025-09-23T08:41:07+08:00"},
        headers=kiosk,
    )
    assert earlier.status_code == 200
    assert earlier.json()["checked_in_at"] == "2025-09-23T00:41:07Z"
    again = await client.post(url, json={"badge_code": participant["badge_code"]}, headers=kiosk)
    assert again.json()["checked_in_at"] == "2025-09-23T00:41:07Z"


async def test_status_by_kind(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, committee = await demo_participant(client, admin, 0)
    assert committee["party"]["kind"] == "committee"
    before = (await client.get(f"/v1/events/{event_id}/checkins/status", headers=kiosk)).json()
    assert before["total"] == {"registered": 57, "checked_in": 0, "expected": 57}
    assert before["by_kind"]["committee"]["registered"] == 22
    assert sum(k["registered"] for k in before["by_kind"].values()) == 57
    await client.post(
        f"/v1/events/{event_id}/checkins",
        json={"badge_code": committee["badge_code"]},
        headers=kiosk,
    )
    after = (await client.get(f"/v1/events/{event_id}/checkins/status", headers=kiosk)).json()
    assert after["total"] == {"registered": 57, "checked_in": 1, "expected": 56}
    assert after["by_kind"]["committee"] == {"registered": 22, "checked_in": 1, "expected": 21}


async def test_two_kiosks_on_two_workers_make_one_record(
    two_workers: Workers, committed_key: KeyFactory
) -> None:
    admin = await committed_key("admin")
    kiosks = [await committed_key("kiosk"), await committed_key("kiosk")]
    a, b = two_workers
    event = (await a.post("/v1/events", json={**EVENT, "state": "open"}, headers=admin)).json()
    committee = (await a.get("/v1/committees", headers=admin)).json()["items"][0]
    participant = (
        await a.post(
            f"/v1/events/{event['id']}/participants",
            json={"committee_id": committee["id"], "people": [{"name": "刘宇宁"}]},
            headers=admin,
        )
    ).json()
    scan = {"badge_code": participant["badge_code"]}
    responses = await asyncio.gather(
        *[
            (a, b)[i % 2].post(
                f"/v1/events/{event['id']}/checkins", json=scan, headers=kiosks[i % 2]
            )
            for i in range(8)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["checked_in_at"] for r in responses}) == 1
    status = (await b.get(f"/v1/events/{event['id']}/checkins/status", headers=admin)).json()
    assert status["total"]["checked_in"] == 1
    same_nonce = {"badge_code": participant["badge_code"], "nonce": "n-1"}
    replies = await asyncio.gather(
        *[
            (a, b)[i % 2].post(
                f"/v1/events/{event['id']}/checkins", json=same_nonce, headers=kiosks[0]
            )
            for i in range(4)
        ]
    )
    assert len({(r.status_code, r.text) for r in replies}) == 1
    scans = (
        await a.get(f"/v1/events/{event['id']}/scans", params={"limit": 500}, headers=admin)
    ).json()["items"]
    assert len(scans) == 9
    await a.delete(f"/v1/events/{event['id']}", headers={**admin, "If-Match": '"1"'})


async def test_first_check_in_tells_partner_systems_once(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, session: AsyncSession
) -> None:
    kiosk = await make_key("kiosk")
    event_id, participant = await demo_participant(client, admin, 5)
    for _ in range(2):
        await client.post(
            f"/v1/events/{event_id}/checkins",
            json={"badge_code": participant["badge_code"]},
            headers=kiosk,
        )
    events = (
        await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "checkin.created"))
    ).all()
    assert len(events) == 1
    assert events[0].payload["participant_id"] == participant["id"]
    assert events[0].payload["party"]["name_zh"] == participant["party"]["name_zh"]


async def test_a_nonce_belongs_to_one_kiosk(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    """Kiosk 2 using the nonce kiosk 1 used checks its own badge in, never gets kiosk 1's
    answer; and one kiosk's nonce sent again with another badge is a 422 naming both."""
    first_kiosk, second_kiosk = await make_key("kiosk"), await make_key("kiosk")
    event_id, one = await demo_participant(client, admin, 3)
    _, other = await demo_participant(client, admin, 4)
    url = f"/v1/events/{event_id}/checkins"
    by_first = await client.post(
        url, json={"badge_code": one["badge_code"], "nonce": "n1"}, headers=first_kiosk
    )
    by_second = await client.post(
        url, json={"badge_code": other["badge_code"], "nonce": "n1"}, headers=second_kiosk
    )
    assert by_first.status_code == by_second.status_code == 201, by_second.text
    assert by_second.json()["participant"]["id"] == other["id"]
    shown = await client.get(f"/v1/events/{event_id}/participants/{other['id']}", headers=admin)
    assert shown.json()["checked_in_at"] == by_second.json()["checked_in_at"]
    crossed = await client.post(
        url, json={"badge_code": other["badge_code"], "nonce": "n1"}, headers=first_kiosk
    )
    assert crossed.status_code == 422
    problem = crossed.json()
    assert problem["code"] == "nonce_reused"
    assert one["badge_code"] in problem["detail"] and other["badge_code"] in problem["detail"]
    scans = (await client.get(f"/v1/events/{event_id}/scans", headers=admin)).json()["items"]
    assert sorted(s["badge_code"] for s in scans) == sorted(
        [one["badge_code"], other["badge_code"]]
    )


async def test_an_unknown_badge_carries_a_request_id(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, _ = await demo_participant(client, admin)
    unknown = await client.post(
        f"/v1/events/{event_id}/checkins", json={"badge_code": "XXXXX-YYYYY"}, headers=kiosk
    )
    assert unknown.status_code == 404
    assert unknown.json()["request_id"] == unknown.headers["X-Request-ID"]
