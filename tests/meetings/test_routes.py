"""Meeting requests, preferences, hand-placed meetings, history and agendas."""

from typing import Any
from unittest.mock import patch

import httpx

from service.meetings import service as meetings
from tests.support import (
    EVENT,
    WAIT,
    Headers,
    KeyFactory,
    build_and_publish,
    key_for,
    parties,
)


async def domain_codes(
    client: httpx.AsyncClient, admin: Headers, event_id: str, participant_id: str
) -> list[str]:
    """A participant's party's domains, in the party's order, as the directory shows them."""
    participant = (
        await client.get(f"/v1/events/{event_id}/participants/{participant_id}", headers=admin)
    ).json()
    kind = "committees" if participant["party"]["kind"] == "committee" else "organizations"
    party = (await client.get(f"/v1/{kind}/{participant['party']['id']}", headers=admin)).json()
    return [link["domain"] for link in party["domains"]]


async def test_request_accept_decline_withdraw_by_the_right_side(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, committees, organizations = await parties(client, admin)
    sender, recipient = organizations[-1], committees[-1]
    sender_key = await make_key("partner", **key_for(sender))
    recipient_key = await make_key("partner", **key_for(recipient))
    url = f"/v1/events/{event_id}/meeting-requests"
    body = {
        "from_participant_id": sender["id"],
        "to_participant_id": recipient["id"],
        "message": "想讨论标准合作",
    }
    created = await client.post(url, json=body, headers=sender_key)
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["state"] == "pending"
    again = await client.post(url, json=body, headers=sender_key)
    assert again.status_code == 409 and again.json()["code"] == "request_exists"
    impostor = await client.post(
        url, json={**body, "from_participant_id": organizations[-2]["id"]}, headers=sender_key
    )
    assert impostor.status_code == 403

    respond = f"{url}/{request['id']}:respond"
    by_sender = await client.post(
        respond, json={"action": "accept"}, headers={**sender_key, "If-Match": '"1"'}
    )
    assert by_sender.status_code == 403
    no_etag = await client.post(respond, json={"action": "accept"}, headers=recipient_key)
    assert no_etag.status_code == 428
    accepted = await client.post(
        respond, json={"action": "accept"}, headers={**recipient_key, "If-Match": '"1"'}
    )
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    late = await client.post(
        respond, json={"action": "withdraw"}, headers={**sender_key, "If-Match": '"2"'}
    )
    assert late.status_code == 409 and late.json()["code"] == "request_closed"

    outsider = await make_key("partner", **key_for(organizations[0]))
    assert (await client.get(f"{url}/{request['id']}", headers=outsider)).status_code == 404
    listed = (await client.get(url, params={"limit": 500}, headers=outsider)).json()["items"]
    assert request["id"] not in {r["id"] for r in listed}
    mine = (await client.get(url, params={"limit": 500}, headers=recipient_key)).json()["items"]
    assert request["id"] in {r["id"] for r in mine}


async def test_requests_need_registered_counterparts(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event_id, committees, organizations = await parties(client, admin)
    url = f"/v1/events/{event_id}/meeting-requests"
    same_side = await client.post(
        url,
        json={"from_participant_id": committees[0]["id"], "to_participant_id": committees[1]["id"]},
        headers=admin,
    )
    assert same_side.status_code == 422 and same_side.json()["code"] == "not_counterparts"
    other_event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    elsewhere = await client.post(
        f"/v1/events/{other_event['id']}/meeting-requests",
        json={
            "from_participant_id": organizations[0]["id"],
            "to_participant_id": committees[0]["id"],
        },
        headers=admin,
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["code"] == "not_registered"


async def first_preference(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, *, owner: int, kind: str
) -> tuple[str, Headers, dict[str, Any], httpx.Response]:
    """Organization number `owner` of the demo marks a committee: the list's URL, the owner's
    partner key, the body and the 201."""
    event_id, committees, organizations = await parties(client, admin)
    partner = await make_key("partner", **key_for(organizations[owner]))
    url = f"/v1/events/{event_id}/preferences"
    body = {
        "participant_id": organizations[owner]["id"],
        "counterpart_id": committees[owner - 2]["id"],
        "kind": kind,
    }
    created = await client.post(url, json=body, headers=partner)
    assert created.status_code == 201, created.text
    return url, partner, body, created


async def test_preferences_are_set_changed_and_private(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    url, partner, body, created = await first_preference(
        client, admin, make_key, owner=5, kind="would_like"
    )
    _, _, organizations = await parties(client, admin)
    changed = await client.post(url, json={**body, "kind": "do_not_meet"}, headers=partner)
    assert changed.status_code == 200 and changed.json()["id"] == created.json()["id"]
    assert changed.json()["kind"] == "do_not_meet"
    # The same kind again is no change: the version stays.
    again = await client.post(url, json={**body, "kind": "do_not_meet"}, headers=partner)
    assert again.status_code == 200 and again.headers["etag"] == changed.headers["etag"]
    for_other = await client.post(
        url, json={**body, "participant_id": organizations[6]["id"]}, headers=partner
    )
    assert for_other.status_code == 403
    mine = (await client.get(url, params={"limit": 500}, headers=partner)).json()["items"]
    assert [p["kind"] for p in mine if p["counterpart_id"] == body["counterpart_id"]] == [
        "do_not_meet"
    ]
    assert all(p["participant_id"] == body["participant_id"] for p in mine)
    one = f"{url}/{created.json()['id']}"
    read = await client.get(one, headers=partner)
    assert read.json() == changed.json() and read.headers["etag"] == changed.headers["etag"]
    assert created.headers["etag"] != changed.headers["etag"]
    outsider = await make_key("partner", **key_for(organizations[7]))
    assert (await client.get(one, headers=outsider)).status_code == 404
    gone = await client.delete(one, headers={**outsider, "If-Match": read.headers["etag"]})
    assert gone.status_code == 404


async def test_deleting_a_preference_takes_the_version_read(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    url, partner, body, first = await first_preference(
        client, admin, make_key, owner=8, kind="must_meet"
    )
    one = first.headers["location"]
    unconditional = await client.delete(one, headers=partner)
    assert unconditional.status_code == 428
    assert unconditional.json()["code"] == "precondition_required"
    changed = await client.post(url, json={**body, "kind": "would_like"}, headers=partner)
    # Changed since it was first read: deleting what the caller saw would lose the change.
    stale = await client.delete(one, headers={**partner, "If-Match": first.headers["etag"]})
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == changed.headers["etag"]
    assert (await client.get(one, headers=partner)).json()["kind"] == "would_like"
    current = {**partner, "If-Match": changed.headers["etag"]}
    assert (await client.delete(one, headers=current)).status_code == 204
    assert (await client.get(one, headers=partner)).status_code == 404
    mine = (await client.get(url, params={"limit": 500}, headers=partner)).json()["items"]
    assert all(p["id"] != first.json()["id"] for p in mine)


async def test_hand_placed_meeting_that_double_books_is_409(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    _event_id, committees, organizations = await parties(client, admin)
    small = (await client.post("/v1/events", json={**EVENT, "state": "open"}, headers=admin)).json()
    url = f"/v1/events/{small['id']}"
    registered = []
    for party in (committees[0], committees[1], organizations[0], organizations[1]):
        registered.append(
            (
                await client.post(
                    f"{url}/participants",
                    json={**key_for(party), "people": [{"name": "代表"}]},
                    headers=admin,
                )
            ).json()
        )
    c1, c2, o1, o2 = registered
    await build_and_publish(client, admin, small["id"])
    meetings = (await client.get(f"{url}/meetings", headers=admin)).json()["items"]
    for m in meetings:  # start from an empty grid
        await client.patch(
            f"{url}/meetings/{m['id']}",
            json={"status": "cancelled"},
            headers={**admin, "If-Match": f'"{m["version"]}"'},
        )
    first = await client.post(
        f"{url}/meetings",
        json={
            "committee_participant_id": c1["id"],
            "organization_participant_id": o1["id"],
            "slot": 1,
        },
        headers=admin,
    )
    assert first.status_code == 201, first.text
    same_org = await client.post(
        f"{url}/meetings",
        json={
            "committee_participant_id": c2["id"],
            "organization_participant_id": o1["id"],
            "slot": 1,
        },
        headers=admin,
    )
    assert same_org.status_code == 409 and same_org.json()["code"] == "double_booked"
    same_table = await client.post(
        f"{url}/meetings",
        json={
            "committee_participant_id": c2["id"],
            "organization_participant_id": o2["id"],
            "slot": 1,
            "table": first.json()["table"],
        },
        headers=admin,
    )
    assert same_table.status_code == 409
    same_pair = await client.post(
        f"{url}/meetings",
        json={
            "committee_participant_id": c1["id"],
            "organization_participant_id": o1["id"],
            "slot": 2,
        },
        headers=admin,
    )
    assert same_pair.status_code == 409
    fine = await client.post(
        f"{url}/meetings",
        json={
            "committee_participant_id": c2["id"],
            "organization_participant_id": o2["id"],
            "slot": 1,
        },
        headers=admin,
    )
    assert fine.status_code == 201
    move = await client.patch(
        f"{url}/meetings/{fine.json()['id']}",
        json={"table": first.json()["table"]},
        headers={**admin, "If-Match": f'"{fine.json()["version"]}"'},
    )
    assert move.status_code == 409
    # A registration meetings refer to stays; one nothing refers to goes.
    booked = f"{url}/participants/{c1['id']}"
    etag = (await client.get(booked, headers=admin)).headers["etag"]
    assert (await client.delete(booked, headers=admin)).status_code == 428
    refused = await client.delete(booked, headers={**admin, "If-Match": etag})
    assert refused.status_code == 409 and refused.json()["code"] == "in_use"
    assert (await client.get(booked, headers=admin)).status_code == 200
    spare = (
        await client.post(
            f"{url}/participants",
            json={**key_for(organizations[2]), "people": [{"name": "代表"}]},
            headers=admin,
        )
    ).json()
    free = f"{url}/participants/{spare['id']}"
    gone = await client.delete(free, headers={**admin, "If-Match": f'"{spare["version"]}"'})
    assert gone.status_code == 204
    assert (await client.get(free, headers=admin)).status_code == 404
    # Attendance is kept: a participant who has checked in stays registered.
    arrived = (
        await client.post(
            f"{url}/participants",
            json={**key_for(organizations[3]), "people": [{"name": "代表"}]},
            headers=admin,
        )
    ).json()
    scan = {"badge_code": arrived["badge_code"]}
    assert (await client.post(f"{url}/checkins", json=scan, headers=admin)).status_code == 201
    kept = f"{url}/participants/{arrived['id']}"
    refused = await client.delete(kept, headers={**admin, "If-Match": f'"{arrived["version"]}"'})
    assert refused.status_code == 409 and refused.json()["code"] == "in_use"
    assert (await client.get(kept, headers=admin)).status_code == 200


async def test_status_changes_are_kept_with_who_and_when(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event_id, _, _ = await parties(client, admin)
    await build_and_publish(client, admin, event_id)
    url = f"/v1/events/{event_id}/meetings"
    meeting = (await client.get(url, params={"limit": 1}, headers=admin)).json()["items"][0]
    held = await client.patch(
        f"{url}/{meeting['id']}",
        json={"status": "held", "notes": "双方同意起草合作意向"},
        headers={**admin, "If-Match": f'"{meeting["version"]}"'},
    )
    assert held.status_code == 200 and held.json()["status"] == "held"
    stale = await client.patch(
        f"{url}/{meeting['id']}",
        json={"status": "no_show"},
        headers={**admin, "If-Match": f'"{meeting["version"]}"'},
    )
    assert stale.status_code == 412
    current = {**admin, "If-Match": held.headers["etag"]}
    # Sending what is there already changes nothing: the version and the ETag stay.
    same = await client.patch(
        f"{url}/{meeting['id']}",
        json={"status": "held", "notes": "双方同意起草合作意向", "slot": held.json()["slot"]},
        headers=current,
    )
    assert same.status_code == 200, same.text
    assert same.headers["etag"] == held.headers["etag"]
    for field in ("slot", "status", "notes"):
        nulled = await client.patch(f"{url}/{meeting['id']}", json={field: None}, headers=current)
        assert nulled.status_code == 422, field
        assert f"{field} cannot be null" in nulled.json()["detail"]
    history = (await client.get(f"{url}/{meeting['id']}/history", headers=admin)).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [("scheduled", "held")]
    assert history[0]["note"] == "双方同意起草合作意向" and history[0]["actor_name"] == "test admin"
    filtered = (await client.get(url, params={"status": "held"}, headers=admin)).json()["items"]
    assert [m["id"] for m in filtered] == [meeting["id"]]
    by_slot = (
        await client.get(url, params={"slot": meeting["slot"], "limit": 500}, headers=admin)
    ).json()["items"]
    assert by_slot and {m["slot"] for m in by_slot} == {meeting["slot"]}


async def test_agenda_only_after_publishing_and_as_bilingual_html(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    event_id, committees, _ = await parties(client, admin)
    committee = committees[0]
    url = f"/v1/events/{event_id}/participants/{committee['id']}/agenda"
    before = (await client.get(url, headers=admin)).json()
    assert before["published"] is False and before["meetings"] == []
    await client.post(
        f"/v1/events/{event_id}/schedule",
        json={"time_limit_seconds": 5},
        headers={**admin, **WAIT},
    )
    draft_only = (await client.get(url, headers=admin)).json()
    assert draft_only["meetings"] == []
    await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    agenda = (await client.get(url, headers=admin)).json()
    assert agenda["published"] and agenda["meetings"]
    slots = [m["slot"] for m in agenda["meetings"]]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert {m["table"] for m in agenda["meetings"]} == {
        agenda["meetings"][0]["table"]
    }  # own table all day
    # Each meeting names the domains its two parties share, in the committee's own order.
    own = await domain_codes(client, admin, event_id, committee["id"])
    for meeting in agenda["meetings"]:
        theirs = await domain_codes(
            client, admin, event_id, meeting["counterpart"]["participant_id"]
        )
        shared = [d["code"] for d in meeting["shared_domains"]]
        assert shared == [code for code in own if code in theirs], meeting
    assert any(m["shared_domains"] for m in agenda["meetings"]), "no meeting shares a domain"
    kiosk = await make_key("kiosk")
    assert (await client.get(url, headers=kiosk)).status_code == 200
    html = await client.get(url, headers={**admin, "Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "会谈对象" in html.text and "Counterpart" in html.text
    assert agenda["meetings"][0]["counterpart"]["name_zh"] in html.text
    outsider = await make_key("partner", **key_for(committees[1]))
    refused = await client.get(url, headers=outsider)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "not_own_agenda"
    assert "No participant" not in refused.json()["detail"]
    own = await client.get(
        f"/v1/events/{event_id}/participants/{committees[1]['id']}/agenda", headers=outsider
    )
    assert own.status_code == 200, own.text


async def test_a_preference_created_by_a_concurrent_request_is_set_not_a_500(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    url, partner, body, first = await first_preference(
        client, admin, make_key, owner=9, kind="must_meet"
    )
    # The second request read before the first inserted: its own insert hits the unique pair.
    real = meetings._preference_of
    calls = 0

    async def read_too_early(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(*args)

    with patch.object(meetings, "_preference_of", read_too_early):
        second = await client.post(url, json={**body, "kind": "do_not_meet"}, headers=partner)
    assert calls == 2
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"] and second.json()["kind"] == "do_not_meet"
    mine = (await client.get(url, params={"limit": 500}, headers=partner)).json()["items"]
    assert [p["kind"] for p in mine if p["counterpart_id"] == body["counterpart_id"]] == [
        "do_not_meet"
    ]


async def test_printed_agenda_names_counterparts_by_designation_with_date_venue_time_table(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event_id, _, organizations = await parties(client, admin)
    await client.post(
        f"/v1/events/{event_id}/schedule", json={"time_limit_seconds": 5}, headers=admin
    )
    await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    for organization in organizations:
        url = f"/v1/events/{event_id}/participants/{organization['id']}/agenda"
        agenda = (await client.get(url, headers=admin)).json()
        if agenda["meetings"]:
            break
    else:
        raise AssertionError("no organization has a meeting in the published schedule")
    assert agenda["date"] == "2025-09-23" and agenda["participant"]["designation"] is None
    first = agenda["meetings"][0]
    counterpart = first["counterpart"]
    assert counterpart["designation"], counterpart  # a committee, known by its designation
    html = (await client.get(url, headers={**admin, "Accept": "text/html"})).text
    row = html[html.index("<tbody>") :].split("</tr>")[0]
    assert counterpart["designation"] in row and counterpart["name_zh"] in row
    assert f'<td class="table">{first["table"]}</td>' in row
    assert first["start"].endswith("+08:00")  # the venue's clock, as the sheet prints it
    assert f'<td class="time">{first["start"][11:16]}–{first["end"][11:16]}</td>' in row, row
    assert "2025年9月23日 星期二" in html and "Tuesday 23 September 2025" in html
    assert "温州国际会展中心" in html
