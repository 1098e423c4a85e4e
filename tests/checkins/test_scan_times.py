"""The door believes a scan time only within reason: not in the future beyond a small clock
skew, not outside the event's day beyond a grace; a refused scan is a problem and is kept."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from service.app import create_app
from service.config import Settings
from tests.support import EVENT, Headers, KeyFactory, read_demo_event

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def door(settings: Settings, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with the door's default clock skew and grace (the suite widens them)."""
    defaults = Settings(database_url=settings.database_url)
    assert defaults.checkin_clock_skew_seconds == 120 and defaults.checkin_grace_hours == 2
    app = create_app(defaults, bind=connection)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _event_today(door: httpx.AsyncClient, admin: Headers) -> tuple[str, str]:
    """An open event dated today in Shanghai, one slot, one registered committee: (event, badge)."""
    today = datetime.now(SHANGHAI).date().isoformat()
    event = {
        **EVENT,
        "date": today,
        "slots": [{"start": f"{today}T09:00:00+08:00", "end": f"{today}T09:20:00+08:00"}],
        "state": "open",
    }
    created = await door.post("/v1/events", json=event, headers=admin)
    assert created.status_code == 201, created.text
    committee = (await door.get("/v1/committees", headers=admin)).json()["items"][0]
    participant = await door.post(
        f"/v1/events/{created.json()['id']}/participants",
        json={"committee_id": committee["id"], "people": [{"name": "刘宇宁"}]},
        headers=admin,
    )
    return created.json()["id"], participant.json()["badge_code"]


async def _failed(door: httpx.AsyncClient, admin: Headers, event_id: str) -> list[str]:
    scans = await door.get(f"/v1/events/{event_id}/scans", params={"failed": True}, headers=admin)
    return [s["outcome"] for s in scans.json()["items"]]


async def test_a_scan_from_the_future_is_refused_and_kept(
    door: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, badge = await _event_today(door, admin)
    url = f"/v1/events/{event_id}/checkins"
    refused = await door.post(
        url, json={"badge_code": badge, "scanned_at": "2099-01-01T00:00:00+08:00"}, headers=kiosk
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["code"] == "scan_time_refused" and body["reason"] == "scan_time_refused"
    assert "clock skew" in body["detail"]
    assert body["errors"][0]["field"] == "scanned_at"
    assert await _failed(door, admin, event_id) == ["scan_time_refused"]
    status = (await door.get(f"/v1/events/{event_id}/checkins/status", headers=admin)).json()
    assert status["total"]["checked_in"] == 0
    # A kiosk clock a minute fast is within the skew, and so is a live scan.
    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    fast = await door.post(url, json={"badge_code": badge, "scanned_at": soon}, headers=kiosk)
    assert fast.status_code == 201, fast.text


async def test_a_scan_outside_the_event_day_is_refused_within_the_grace_accepted(
    door: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event_id, badge = await _event_today(door, admin)
    url = f"/v1/events/{event_id}/checkins"
    midnight = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    too_early = (midnight - timedelta(hours=3)).isoformat()
    refused = await door.post(
        url, json={"badge_code": badge, "scanned_at": too_early, "nonce": "n1"}, headers=kiosk
    )
    assert refused.status_code == 422 and refused.json()["code"] == "scan_time_refused"
    assert "outside the event's day" in refused.json()["detail"]
    # The same nonce again is the same refusal, not a second scan.
    again = await door.post(
        url, json={"badge_code": badge, "scanned_at": too_early, "nonce": "n1"}, headers=kiosk
    )
    assert again.status_code == 422 and again.json()["code"] == "scan_time_refused"
    assert await _failed(door, admin, event_id) == ["scan_time_refused"]
    within_grace = (midnight - timedelta(hours=1)).isoformat()
    accepted = await door.post(
        url, json={"badge_code": badge, "scanned_at": within_grace}, headers=kiosk
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["checked_in_at"] == (midnight - timedelta(hours=1)).astimezone(
        UTC
    ).isoformat().replace("+00:00", "Z")


async def test_an_event_dated_in_the_past_takes_no_live_check_in(
    door: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    kiosk = await make_key("kiosk")
    event = await read_demo_event(door, admin)  # 2025-09-23, open
    participant = (await door.get(f"/v1/events/{event['id']}/participants", headers=admin)).json()[
        "items"
    ][0]
    url = f"/v1/events/{event['id']}/checkins"
    live = await door.post(url, json={"badge_code": participant["badge_code"]}, headers=kiosk)
    assert live.status_code == 422, live.text
    assert live.json()["code"] == "scan_time_refused"
    # An offline upload of a scan made on the day is still taken.
    offline = await door.post(
        url,
        json={"badge_code": participant["badge_code"], "scanned_at": "2025-09-23T08:41:07+08:00"},
        headers=kiosk,
    )
    assert offline.status_code == 201, offline.text
    assert await _failed(door, admin, event["id"]) == ["scan_time_refused"]
