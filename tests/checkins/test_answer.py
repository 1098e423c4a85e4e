"""A check-in's answer is what the participant and agenda routes show, whichever path made it
(on PostgreSQL the door renders it from its own two statements, not from the ORM)."""

import httpx

from tests.support import Headers, KeyFactory, published_small_event


async def test_the_answer_is_the_participant_and_its_agenda_as_their_routes_show_them(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, registered = await published_small_event(client, admin)
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
