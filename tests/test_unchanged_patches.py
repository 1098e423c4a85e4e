"""A PATCH that changes nothing keeps the version and the ETag, on every PATCH route; the same
route with a real change moves them (so the check can fail). Intents and memoranda have theirs
in tests/agreements."""

from typing import Any

import httpx

from tests.support import Headers, unchanged_then_changed


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


async def test_events_and_webhooks(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
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
