"""Table hosts: a key that marks the meetings of its event held or no-show, and nothing else."""

import httpx

from tests.support import EVENT, Headers, KeyFactory, build_and_publish, parties


async def test_a_table_host_marks_meetings_of_its_event_and_nothing_else(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, _, _ = await parties(client, admin)
    await build_and_publish(client, admin, event_id)
    host = await make_key("table_host", event_id=event_id)
    url = f"/v1/events/{event_id}/meetings"
    meeting = (await client.get(url, params={"limit": 1}, headers=admin)).json()["items"][0]
    current = {**host, "If-Match": f'"{meeting["version"]}"'}
    for body in ({"slot": 2}, {"status": "held", "notes": "x"}, {"status": "cancelled"}):
        refused = await client.patch(f"{url}/{meeting['id']}", json=body, headers=current)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "table_host_marks_only"
    held = await client.patch(f"{url}/{meeting['id']}", json={"status": "held"}, headers=current)
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held"
    no_show = await client.patch(
        f"{url}/{meeting['id']}",
        json={"status": "no_show"},
        headers={**host, "If-Match": held.headers["etag"]},
    )
    assert no_show.status_code == 200 and no_show.json()["status"] == "no_show"
    history = (await client.get(f"{url}/{meeting['id']}/history", headers=admin)).json()
    assert [(h["to_status"], h["actor_name"]) for h in history] == [
        ("held", "test table_host"),
        ("no_show", "test table_host"),
    ]
    # Nothing else: not the list of meetings, not the door, not another event's meetings.
    listed = await client.get(url, headers=host)
    assert listed.status_code == 403 and listed.json()["code"] == "forbidden"
    other = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    other_host = await make_key("table_host", event_id=other["id"])
    elsewhere = await client.patch(
        f"{url}/{meeting['id']}",
        json={"status": "held"},
        headers={**other_host, "If-Match": no_show.headers["etag"]},
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "event_not_allowed"


async def test_a_table_host_key_needs_its_event(client: httpx.AsyncClient, admin: Headers) -> None:
    refused = await client.post(
        "/v1/api-keys", json={"name": "Table 3", "role": "table_host"}, headers=admin
    )
    assert refused.status_code == 422 and refused.json()["code"] == "event_required"
    event_id = (await client.get("/v1/events", headers=admin)).json()["items"][0]["id"]
    created = await client.post(
        "/v1/api-keys",
        json={"name": "Table 3", "role": "table_host", "event_id": event_id},
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["role"] == "table_host"
