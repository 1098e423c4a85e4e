"""Cooperation intents over HTTP: every state edge, history, visibility, filters, references."""

import itertools
from typing import Any

import httpx
import pytest

from tests.support import EVENT, Headers, KeyFactory, random_id, unchanged_then_changed

PROBLEM = "application/problem+json"
FLOW = {
    "proposed": ["confirmed", "withdrawn"],
    "confirmed": ["in_progress", "withdrawn"],
    "in_progress": ["fulfilled", "withdrawn"],
    "fulfilled": [],
    "withdrawn": [],
}
# The shortest way to reach each state from proposed.
PATH = {
    "proposed": [],
    "confirmed": ["confirmed"],
    "in_progress": ["confirmed", "in_progress"],
    "fulfilled": ["confirmed", "in_progress", "fulfilled"],
    "withdrawn": ["withdrawn"],
}


async def party(client: httpx.AsyncClient, admin: Headers, path: str, **query: str) -> Any:
    return (await client.get(path, params=query, headers=admin)).json()["items"][0]


async def parties(client: httpx.AsyncClient, admin: Headers) -> tuple[str, str]:
    committee = await party(client, admin, "/v1/committees", q="ISO/TC 299")
    organization = (await client.get("/v1/organizations?limit=1", headers=admin)).json()
    return committee["id"], organization["items"][0]["id"]


def intent_body(committee_id: str, organization_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "committee_id": committee_id,
        "organization_id": organization_id,
        "domains": ["robotics", "embodied_ai"],
        "summary": "推荐企业专家加入协作机器人安全相关工作组，开展国际标准跟踪研究。",
        "target_date": "2026-04-30",
        "committee_contact": {"name": "林晓雯", "email": "tc299@example.org"},
        "organization_contact": {"name": "陈建国", "phone": "+86 577 5555 0299"},
    }
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, headers: Headers, **overrides: Any) -> httpx.Response:
    committee_id, organization_id = await parties(client, headers)
    body = intent_body(committee_id, organization_id, **overrides)
    return await client.post("/v1/intents", json=body, headers=headers)


async def move(
    client: httpx.AsyncClient, headers: Headers, intent: dict[str, Any], to: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/intents/{intent['id']}:transition",
        json={"to": to, **extra},
        headers={**headers, "If-Match": f'"{intent["version"]}"'},
    )


async def test_create_read_and_the_first_history_row(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await create(client, admin)
    assert created.status_code == 201, created.text
    intent = created.json()
    assert created.headers["location"] == f"/v1/intents/{intent['id']}"
    assert created.headers["etag"] == '"1"'
    assert intent["state"] == "proposed"
    assert intent["next_states"] == ["confirmed", "withdrawn"]
    assert intent["domains"] == ["robotics", "embodied_ai"]
    assert intent["committee_contact"] == {
        "name": "林晓雯",
        "email": "tc299@example.org",
        "phone": None,
    }
    assert (await client.get(f"/v1/intents/{intent['id']}", headers=admin)).json() == intent

    history = (await client.get(f"/v1/intents/{intent['id']}/history", headers=admin)).json()
    assert [(h["from_state"], h["to_state"]) for h in history["items"]] == [(None, "proposed")]
    assert history["items"][0]["actor"]["role"] == "admin"
    assert history["items"][0]["actor"]["name"] == "test admin"


async def test_every_edge_of_the_state_machine_allowed_or_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    for state, to in itertools.product(FLOW, FLOW):
        intent = (await create(client, admin)).json()
        for step in PATH[state]:
            response = await move(client, admin, intent, step)
            assert response.status_code == 200, response.text
            intent = response.json()
        answer = await move(client, admin, intent, to, note=f"{state} to {to}")
        if to in FLOW[state]:
            assert answer.status_code == 200, f"{state} -> {to}: {answer.text}"
            assert answer.json()["state"] == to
            assert answer.json()["next_states"] == FLOW[to]
            assert answer.headers["etag"] == f'"{intent["version"] + 1}"'
        else:
            assert answer.status_code == 409, f"{state} -> {to} should be refused"
            problem = answer.json()
            assert answer.headers["content-type"] == PROBLEM
            assert problem["code"] == "invalid_transition"
            assert problem["detail"].startswith(f"An intent in state {state} cannot move to {to}")
            assert problem["state"] == state
            assert problem["allowed"] == FLOW[state]
            unchanged = (await client.get(f"/v1/intents/{intent['id']}", headers=admin)).json()
            assert unchanged["state"] == state and unchanged["version"] == intent["version"]


async def test_history_keeps_every_step_with_who_and_when(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    intent = (await create(client, admin)).json()
    partner = await make_key("partner", committee_id=intent["committee_id"])
    intent = (await move(client, partner, intent, "confirmed", note="现场确认")).json()
    intent = (await move(client, admin, intent, "in_progress")).json()
    intent = (await move(client, admin, intent, "fulfilled", note="提案已提交")).json()
    history = (await client.get(f"/v1/intents/{intent['id']}/history", headers=admin)).json()
    steps = [
        (h["from_state"], h["to_state"], h["actor"]["role"], h["note"]) for h in history["items"]
    ]
    assert steps == [
        (None, "proposed", "admin", ""),
        ("proposed", "confirmed", "partner", "现场确认"),
        ("confirmed", "in_progress", "admin", ""),
        ("in_progress", "fulfilled", "admin", "提案已提交"),
    ]
    times = [h["at"] for h in history["items"]]
    assert times == sorted(times)
    page = (await client.get(f"/v1/intents/{intent['id']}/history?limit=3", headers=admin)).json()
    assert len(page["items"]) == 3 and page["next_cursor"]


async def test_transition_needs_if_match_and_refuses_a_stale_one(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    intent = (await create(client, admin)).json()
    url = f"/v1/intents/{intent['id']}:transition"
    missing = await client.post(url, json={"to": "confirmed"}, headers=admin)
    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"
    await move(client, admin, intent, "confirmed")
    stale = await move(client, admin, intent, "withdrawn")
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"2"'
    unknown = await client.post(url, json={"to": "signed"}, headers={**admin, "If-Match": '"2"'})
    assert unknown.status_code == 422


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient, admin: Headers) -> None:
    intent = (await create(client, admin)).json()
    url = f"/v1/intents/{intent['id']}"
    patched = await client.patch(
        url,
        json={"target_date": "2026-06-30", "domains": ["robotics"], "organization_contact": None},
        headers={**admin, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["target_date"] == "2026-06-30"
    assert body["domains"] == ["robotics"]
    assert body["organization_contact"] is None
    assert body["summary"] == intent["summary"]
    assert patched.headers["etag"] == '"2"'
    assert (
        await client.patch(url, json={"summary": None}, headers={**admin, "If-Match": '"2"'})
    ).status_code == 422
    assert (await client.patch(url, json={"summary": "x"}, headers=admin)).status_code == 428
    unknown = await client.patch(
        url, json={"domains": ["no_such"]}, headers={**admin, "If-Match": '"2"'}
    )
    assert unknown.json()["code"] == "unknown_domain"


async def test_a_partner_sees_and_records_only_its_own_party(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    intent = (await create(client, admin)).json()
    own = await make_key("partner", organization_id=intent["organization_id"])
    other_committee = await party(client, admin, "/v1/committees", q="IEC TC 111")
    other = await make_key("partner", committee_id=other_committee["id"])
    kiosk = await make_key("kiosk")

    mine = (await client.get(f"/v1/intents/{intent['id']}", headers=own)).json()
    assert mine["organization_contact"]["phone"] == "+86 577 5555 0299"
    assert mine["committee_contact"]["email"] == "tc299@example.org"
    assert intent["id"] in [
        i["id"] for i in (await client.get("/v1/intents?limit=500", headers=own)).json()["items"]
    ]

    for path in (f"/v1/intents/{intent['id']}", f"/v1/intents/{intent['id']}/history"):
        hidden = await client.get(path, headers=other)
        assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert (await move(client, other, intent, "confirmed")).status_code == 404
    listed = (await client.get("/v1/intents?limit=500", headers=other)).json()["items"]
    assert all(i["committee_id"] == other_committee["id"] for i in listed)

    refused = await client.post(
        "/v1/intents",
        json=intent_body(intent["committee_id"], intent["organization_id"]),
        headers=other,
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_party"
    allowed = await client.post(
        "/v1/intents",
        json=intent_body(other_committee["id"], intent["organization_id"]),
        headers=other,
    )
    assert allowed.status_code == 201

    assert (await client.get("/v1/intents", headers=kiosk)).status_code == 403


async def test_unknown_parties_and_domains_are_422(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee_id, organization_id = await parties(client, admin)
    unknown = await client.post(
        "/v1/intents", json=intent_body(random_id(), organization_id), headers=admin
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_party"
    bad_domain = await client.post(
        "/v1/intents",
        json=intent_body(committee_id, organization_id, domains=["iot", "nope"]),
        headers=admin,
    )
    assert bad_domain.json()["code"] == "unknown_domain"
    assert bad_domain.json()["errors"] == [
        {"field": "domains[1]", "message": "unknown domain 'nope'"}
    ]
    orphan_meeting = await client.post(
        "/v1/intents",
        json=intent_body(committee_id, organization_id, meeting_id=random_id()),
        headers=admin,
    )
    assert orphan_meeting.status_code == 422


async def test_filters_by_event_party_domain_subtree_and_state(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # An intent may name only an event that exists.
    event_id = (await client.post("/v1/events", json=EVENT, headers=admin)).json()["id"]
    ghost_event = await create(client, admin, event_id=random_id())
    assert ghost_event.status_code == 422 and ghost_event.json()["code"] == "unknown_event"
    committee_id, organization_id = await parties(client, admin)
    first = (await create(client, admin, event_id=event_id)).json()
    second = (
        await create(client, admin, event_id=event_id, domains=["industrial_internet"])
    ).json()
    await move(client, admin, second, "confirmed")

    async def ids(**query: str) -> list[str]:
        page = (await client.get("/v1/intents", params=query, headers=admin)).json()
        return [i["id"] for i in page["items"]]

    assert await ids(event_id=event_id) == [first["id"], second["id"]]
    assert await ids(event_id=event_id, state="confirmed") == [second["id"]]
    assert await ids(event_id=event_id, domain="emerging_fields") == [second["id"]]
    assert await ids(event_id=event_id, domain="future_industries") == [first["id"]]
    assert await ids(event_id=event_id, committee_id=committee_id) == [first["id"], second["id"]]
    assert await ids(event_id=event_id, organization_id=organization_id) == [
        first["id"],
        second["id"],
    ]
    assert await ids(event_id=event_id, organization_id=random_id()) == []
    assert await ids(event_id=event_id, limit="1") == [first["id"]]
    unknown = await client.get("/v1/intents?domain=nope", headers=admin)
    assert unknown.json()["code"] == "unknown_domain"
    assert (await client.get("/v1/intents?state=signed", headers=admin)).status_code == 422


async def test_the_demo_has_fourteen_intents_from_the_wenzhou_event(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    items = (await client.get("/v1/intents?limit=500", headers=admin)).json()["items"]
    demo = [i for i in items if i["event_id"] is not None]
    assert len(demo) == 14
    assert {i["state"] for i in demo} == {"proposed", "confirmed", "in_progress"}
    tc299 = await party(client, admin, "/v1/committees", q="ISO/TC 299")
    mine = (await client.get(f"/v1/intents?committee_id={tc299['id']}", headers=admin)).json()[
        "items"
    ]
    assert [i["domains"] for i in mine] == [["robotics", "embodied_ai"]]


@pytest.mark.parametrize("side", ["committee", "organization"])
async def test_a_party_with_an_intent_cannot_be_deleted(
    client: httpx.AsyncClient, admin: Headers, side: str
) -> None:
    committee = await client.post(
        "/v1/committees",
        json={
            "designation": "ISO/TC 999",
            "level": "international",
            "name_zh": "测试委员会",
            "name_en": "Test committee",
        },
        headers=admin,
    )
    organization = await client.post(
        "/v1/organizations", json={"kind": "enterprise", "name_zh": "测试企业"}, headers=admin
    )
    ids = {"committee": committee.json()["id"], "organization": organization.json()["id"]}
    await client.post(
        "/v1/intents", json=intent_body(ids["committee"], ids["organization"]), headers=admin
    )
    url = f"/v1/{side}s/{ids[side]}"
    refused = await client.delete(url, headers={**admin, "If-Match": '"1"'})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "in_use"
    assert (await client.get(url, headers=admin)).status_code == 200


async def test_the_proposing_side_cannot_confirm_its_own_intent(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    committee_id, organization_id = await parties(client, admin)
    proposer = await make_key("partner", organization_id=organization_id)
    other_side = await make_key("partner", committee_id=committee_id)
    created = await client.post(
        "/v1/intents", json=intent_body(committee_id, organization_id), headers=proposer
    )
    assert created.status_code == 201, created.text
    intent = created.json()
    assert intent["proposed_by"] == "organization"

    refused = await move(client, proposer, intent, "confirmed")
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["code"] == "confirmation_by_other_side"
    assert problem["proposed_by"] == "organization"
    assert problem["awaiting"] == {"side": "committee", "id": committee_id}
    assert committee_id in problem["detail"]
    unchanged = (await client.get(f"/v1/intents/{intent['id']}", headers=admin)).json()
    assert unchanged["state"] == "proposed" and unchanged["version"] == intent["version"]

    confirmed = await move(client, other_side, intent, "confirmed", note="委员会确认")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "confirmed"
    # Past confirmation either side takes the next steps.
    started = await move(client, proposer, confirmed.json(), "in_progress")
    assert started.status_code == 200, started.text
    history = (await client.get(f"/v1/intents/{intent['id']}/history", headers=admin)).json()
    assert [(h["to_state"], h["actor"]["role"]) for h in history["items"]] == [
        ("proposed", "partner"),
        ("confirmed", "partner"),
        ("in_progress", "partner"),
    ]


async def test_a_committee_proposal_is_confirmed_by_the_organization_or_an_admin(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    committee_id, organization_id = await parties(client, admin)
    proposer = await make_key("partner", committee_id=committee_id)
    body = intent_body(committee_id, organization_id)
    first = (await client.post("/v1/intents", json=body, headers=proposer)).json()
    second = (await client.post("/v1/intents", json=body, headers=proposer)).json()
    assert first["proposed_by"] == second["proposed_by"] == "committee"
    refused = await move(client, proposer, first, "confirmed")
    assert refused.json()["awaiting"] == {"side": "organization", "id": organization_id}
    # The proposer may still withdraw its own proposal.
    assert (await move(client, proposer, first, "withdrawn")).status_code == 200
    by_admin = await move(client, admin, second, "confirmed")
    assert by_admin.status_code == 200 and by_admin.json()["state"] == "confirmed"
    # Recorded by an admin for both sides: no proposer, so either side may confirm.
    recorded = (await client.post("/v1/intents", json=body, headers=admin)).json()
    assert recorded["proposed_by"] is None
    assert (await move(client, proposer, recorded, "confirmed")).status_code == 200


async def test_a_patch_that_changes_nothing_keeps_the_etag(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    intent = (await create(client, admin)).json()
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/intents/{intent['id']}",
        {k: intent[k] for k in ("summary", "domains", "target_date", "committee_contact")},
        {"domains": list(reversed(intent["domains"]))},
    )
