"""A check-in's answer is what the participant and agenda routes show, whichever path made it
(on PostgreSQL the door renders it from its own two statements, not from the ORM)."""

from typing import Any

import httpx

from tests.meetings.test_routes import parties
from tests.schedules.test_routes import small_event
from tests.support import WAIT, Headers, KeyFactory


async def _published(client: httpx.AsyncClient, admin: Headers) -> tuple[str, list[dict[str, Any]]]:
    """An open event with a published schedule in which the first committee has meetings."""
    _, committees, organizations = await parties(client, admin)
    event_id, registered = await small_event(client, admin, committees[:2], organizations[:6])
    for organization in registered[2:5]:
        marked = await client.post(
            f"/v1/events/{event_id}/preferences",
            json={
                "participant_id": registered[0]["id"],
                "counterpart_id": organization["id"],
                "kind": "must_meet",
            },
            headers=admin,
        )
        assert marked.status_code in (200, 201), marked.text
    await client.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    published = await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    assert published.status_code == 200, published.text
    return event_id, registered


async def test_the_answer_is_the_participant_and_its_agenda_as_their_routes_show_them(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, registered = await _published(client, admin)
    kiosk = await make_key("kiosk")
    url = f"/v1/events/{event_id}/checkins"
    for participant, headers in ((registered[0], kiosk), (registered[2], admin)):
        scan = {"badge_code": participant["badge_code"], "nonce": f"answer-{participant['id']}"}
        answer = await client.post(url, json=scan, headers=headers)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        shown = await client.get(
            f"/v1/events/{event_id}/participants/{participant['id']}", headers=headers
        )
        agenda = await client.get(
            f"/v1/events/{event_id}/participants/{participant['id']}/agenda", headers=admin
        )
        assert body["participant"] == shown.json()
        assert body["agenda"] == agenda.json()["meetings"]
        assert body["agenda"], "no meeting on the agenda; the test would prove little"
        assert body["person"] == shown.json()["people"][0]
        assert body["checked_in_at"] == body["person"]["checked_in_at"]
        # Replayed and repeated: the same answer, then the same as already checked in.
        replay = await client.post(url, json=scan, headers=headers)
        assert (replay.status_code, replay.json()) == (201, body)
        repeat = await client.post(
            url, json={**scan, "nonce": f"again-{participant['id']}"}, headers=headers
        )
        assert repeat.status_code == 200, repeat.text
        assert repeat.json() == {**body, "reason": "already_checked_in"}
