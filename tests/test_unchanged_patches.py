"""A PATCH that changes nothing keeps the version and the ETag, on every PATCH route; the same
route with a real change moves them (so the check can fail)."""

from typing import Any

import httpx

from tests.agreements.test_intents import create as create_intent
from tests.agreements.test_memoranda import create as create_memorandum
from tests.support import Headers, demo_event


async def unchanged_then_changed(
    client: httpx.AsyncClient,
    admin: Headers,
    url: str,
    same: dict[str, Any],
    change: dict[str, Any],
) -> None:
    read = await client.get(url, headers=admin)
    assert read.status_code == 200, read.text
    tag = read.headers["etag"]
    for body in ({}, same):
        patched = await client.patch(url, json=body, headers={**admin, "If-Match": tag})
        assert patched.status_code == 200, f"{url} {body}: {patched.text}"
        assert patched.headers["etag"] == tag, f"{url} {body}"
        assert patched.json()["version"] == read.json()["version"]
        assert patched.json().get("updated_at") == read.json().get("updated_at")
    assert (await client.get(url, headers=admin)).headers["etag"] == tag
    moved = await client.patch(url, json=change, headers={**admin, "If-Match": tag})
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] != tag


async def test_directory_records(client: httpx.AsyncClient, admin: Headers) -> None:
    committee = (await client.get("/v1/committees?limit=1", headers=admin)).json()["items"][0]
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/committees/{committee['id']}",
        {k: committee[k] for k in ("designation", "name_zh", "name_en", "domains", "contact")},
        {"name_en": committee["name_en"] + " (renamed)"},
    )
    organization = (await client.get("/v1/organizations?limit=1", headers=admin)).json()["items"]
    organization = organization[0]
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/organizations/{organization['id']}",
        {k: organization[k] for k in ("name_zh", "kind", "region", "domains")},
        {"region": "浙江省杭州市"},
    )


async def test_events_and_webhooks(client: httpx.AsyncClient, admin: Headers) -> None:
    event = await demo_event(client, admin)
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/events/{event['id']}",
        {k: event[k] for k in ("name_zh", "venue", "slots", "tables", "state")},
        {"venue": event["venue"] + "（二楼）"},
    )
    participants = await client.get(f"/v1/events/{event['id']}/participants?limit=1", headers=admin)
    participant = participants.json()["items"][0]
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/events/{event['id']}/participants/{participant['id']}",
        {k: participant[k] for k in ("min_meetings", "max_meetings", "unavailable_slots")},
        {"max_meetings": participant["max_meetings"] + 1},
    )
    webhook = await client.post(
        "/v1/webhooks",
        json={
            "url": "https://93.184.216.34/hooks/standards",
            "event_types": ["intent.created"],
            "description": "CRM",
        },
        headers=admin,
    )
    assert webhook.status_code == 201, webhook.text
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/webhooks/{webhook.json()['id']}",
        {k: webhook.json()[k] for k in ("url", "event_types", "description")},
        {"description": "CRM 2"},
    )


async def test_agreements(client: httpx.AsyncClient, admin: Headers) -> None:
    intent = (await create_intent(client, admin)).json()
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/intents/{intent['id']}",
        {k: intent[k] for k in ("summary", "domains", "target_date", "committee_contact")},
        {"domains": list(reversed(intent["domains"]))},
    )
    memorandum = await create_memorandum(client, admin)
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/memoranda/{memorandum['id']}",
        {"notes": memorandum["notes"]},
        {"notes": "原件存于温州市市场监督管理局。"},
    )
