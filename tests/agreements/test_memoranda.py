"""Memoranda over HTTP: signed content never changes, every state edge, visibility, the demo."""

import itertools
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.demo.load import load_demo
from service.models import Intent, Memorandum, OutboxEvent
from tests.support import Headers, KeyFactory, random_id, unchanged_then_changed

FLOW = {
    "signed": ["active"],
    "active": ["expired", "terminated"],
    "expired": [],
    "terminated": [],
}
PATH = {
    "signed": [],
    "active": ["active"],
    "expired": ["active", "expired"],
    "terminated": ["active", "terminated"],
}


async def first(client: httpx.AsyncClient, admin: Headers, path: str, q: str) -> Any:
    return (await client.get(path, params={"q": q}, headers=admin)).json()["items"][0]


async def memorandum_body(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    tc = await first(client, admin, "/v1/committees", "ISO/TC 344")
    institute = await first(client, admin, "/v1/organizations", "冶金工业信息标准研究院")
    return {
        "title": "大宗商品储运标准化合作备忘录（第二期）",
        "title_en": "Memorandum of Cooperation on Bulk-Commodity Storage and Transport, phase 2",
        "committee_ids": [tc["id"]],
        "organization_ids": [institute["id"]],
        "domains": ["bulk_commodity_storage_transport"],
        "signed_on": "2025-09-23",
        "effective_from": "2025-10-01",
        "effective_to": "2028-09-30",
        "document": {"uri": "https://example.org/mou/phase-2.pdf", "sha256": "AB" * 32},
    }


async def create(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    response = await client.post(
        "/v1/memoranda", json=await memorandum_body(client, admin), headers=admin
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def move(
    client: httpx.AsyncClient, headers: Headers, memorandum: dict[str, Any], to: str
) -> httpx.Response:
    return await client.post(
        f"/v1/memoranda/{memorandum['id']}:transition",
        json={"to": to, "note": f"to {to}"},
        headers={**headers, "If-Match": f'"{memorandum["version"]}"'},
    )


async def test_a_memorandum_is_recorded_signed(client: httpx.AsyncClient, admin: Headers) -> None:
    body = await memorandum_body(client, admin)
    created = await client.post("/v1/memoranda", json=body, headers=admin)
    memorandum = created.json()
    assert created.headers["location"] == f"/v1/memoranda/{memorandum['id']}"
    assert memorandum["state"] == "signed" and memorandum["next_states"] == ["active"]
    assert memorandum["document"]["sha256"] == "ab" * 32
    assert memorandum["committee_ids"] == body["committee_ids"]
    assert memorandum["organization_ids"] == body["organization_ids"]
    history = (await client.get(f"/v1/memoranda/{memorandum['id']}/history", headers=admin)).json()
    assert [(h["from_state"], h["to_state"]) for h in history["items"]] == [(None, "signed")]


async def test_signed_content_cannot_change_but_notes_can(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    memorandum = await create(client, admin)
    url = f"/v1/memoranda/{memorandum['id']}"
    changes: list[dict[str, Any]] = [
        {"title": "改过的标题"},
        {"title_en": None},
        {"committee_ids": [random_id()]},
        {"organization_ids": memorandum["organization_ids"]},
        {"domains": ["logistics"]},
        {"signed_on": "2025-09-24"},
        {"effective_from": "2025-09-23"},
        {"effective_to": None},
        {"document": {"uri": "https://example.org/other.pdf", "sha256": "0" * 64}},
        {"event_id": random_id()},
        {"notes": "ok", "title": "改过的标题"},
    ]
    for change in changes:
        refused = await client.patch(url, json=change, headers={**admin, "If-Match": '"1"'})
        assert refused.status_code == 409, change
        assert refused.json()["code"] == "memorandum_signed"
        assert set(refused.json()["fields"]) == set(change) - {"notes"}
    assert (await client.get(url, headers=admin)).json() == memorandum

    noted = await client.patch(
        url, json={"notes": "原件存于温州市市场监督管理局。"}, headers={**admin, "If-Match": '"1"'}
    )
    assert noted.status_code == 200, noted.text
    assert noted.json()["notes"] == "原件存于温州市市场监督管理局。"
    assert {
        k: v for k, v in noted.json().items() if k not in ("notes", "version", "updated_at")
    } == {k: v for k, v in memorandum.items() if k not in ("notes", "version", "updated_at")}
    assert (await client.patch(url, json={"notes": "x"}, headers=admin)).status_code == 428
    stale = await client.patch(url, json={"notes": "x"}, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412

    # Moving its state does not open the content either.
    moved = (await move(client, admin, noted.json(), "active")).json()
    again = await client.patch(
        url, json={"title": "x"}, headers={**admin, "If-Match": f'"{moved["version"]}"'}
    )
    assert again.status_code == 409


async def test_every_edge_of_the_state_machine_allowed_or_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    for state, to in itertools.product(FLOW, FLOW):
        memorandum = await create(client, admin)
        for step in PATH[state]:
            memorandum = (await move(client, admin, memorandum, step)).json()
        assert memorandum["state"] == state
        answer = await move(client, admin, memorandum, to)
        if to in FLOW[state]:
            assert answer.status_code == 200, f"{state} -> {to}: {answer.text}"
            assert answer.json()["state"] == to
        else:
            assert answer.status_code == 409, f"{state} -> {to} should be refused"
            assert answer.json()["code"] == "invalid_transition"
            assert answer.json()["detail"].startswith(f"A memorandum in state {state} ")
            assert answer.json()["allowed"] == FLOW[state]
    history = (await client.get(f"/v1/memoranda/{memorandum['id']}/history", headers=admin)).json()
    assert [(h["from_state"], h["to_state"], h["note"]) for h in history["items"]] == [
        (None, "signed", ""),
        ("signed", "active", "to active"),
        ("active", "terminated", "to terminated"),
    ]


async def test_only_signatories_see_and_record_memoranda(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    body = await memorandum_body(client, admin)
    signatory = await make_key("partner", organization_id=body["organization_ids"][0])
    outsider_party = await first(client, admin, "/v1/committees", "SAC/TC 181")
    outsider = await make_key("partner", committee_id=outsider_party["id"])

    created = await client.post("/v1/memoranda", json=body, headers=signatory)
    assert created.status_code == 201
    memorandum = created.json()
    refused = await client.post("/v1/memoranda", json=body, headers=outsider)
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_party"

    url = f"/v1/memoranda/{memorandum['id']}"
    assert (await client.get(url, headers=signatory)).status_code == 200
    assert (await client.get(url, headers=outsider)).status_code == 404
    assert (await move(client, outsider, memorandum, "active")).status_code == 404
    listed = (await client.get("/v1/memoranda", headers=outsider)).json()["items"]
    assert [m["title"] for m in listed] == ["宠物用品标准化合作备忘录"]
    assert (await client.get("/v1/memoranda", headers=await make_key("kiosk"))).status_code == 403


async def test_invalid_memoranda_are_422(client: httpx.AsyncClient, admin: Headers) -> None:
    body = await memorandum_body(client, admin)
    for change in (
        {"effective_to": "2025-01-01"},
        {"organization_ids": []},
        {"committee_ids": body["committee_ids"] * 2},
        {"document": {"uri": "https://example.org/x.pdf", "sha256": "xyz"}},
        {"document": {"uri": "file:///etc/passwd", "sha256": "0" * 64}},
    ):
        response = await client.post("/v1/memoranda", json={**body, **change}, headers=admin)
        assert response.status_code == 422, change
    unknown = await client.post(
        "/v1/memoranda", json={**body, "committee_ids": [random_id()]}, headers=admin
    )
    assert unknown.json()["code"] == "unknown_party"


async def test_filters(client: httpx.AsyncClient, admin: Headers) -> None:
    async def titles(**query: str) -> list[str]:
        page = (await client.get("/v1/memoranda", params=query, headers=admin)).json()
        return [m["title"] for m in page["items"]]

    assert len(await titles()) == 4
    assert await titles(domain="service_quality") == ["大宗商品储运标准化合作备忘录"]
    assert await titles(domain="metallurgy") == ["冶金标准样品与钢铁产品绿色低碳标准化合作备忘录"]
    institute = await first(client, admin, "/v1/organizations", "冶金工业信息标准研究院")
    assert len(await titles(organization_id=institute["id"])) == 2
    tc548 = await first(client, admin, "/v1/committees", "SAC/TC 548")
    assert await titles(committee_id=tc548["id"]) == [
        "冶金标准样品与钢铁产品绿色低碳标准化合作备忘录"
    ]
    assert await titles(state="active") == []
    assert len(await titles(state="signed")) == 4
    assert await titles(event_id=random_id()) == []


async def test_loading_the_demo_twice_gives_14_intents_and_4_memoranda(
    session: AsyncSession,
) -> None:
    for _ in range(2):
        counts = await load_demo(session)
        assert counts["intents"] == 14 and counts["memoranda"] == 4
        assert await session.scalar(select(func.count()).select_from(Intent)) == 14
        assert await session.scalar(select(func.count()).select_from(Memorandum)) == 4


async def five_signatories(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> tuple[dict[str, Any], list[Headers], list[str]]:
    """A body with two committees and three organizations, and a partner key for each."""
    body = await memorandum_body(client, admin)
    committees = (await client.get("/v1/committees?limit=2", headers=admin)).json()["items"]
    organizations = (await client.get("/v1/organizations?limit=3", headers=admin)).json()["items"]
    body["committee_ids"] = [c["id"] for c in committees]
    body["organization_ids"] = [o["id"] for o in organizations]
    keys = [await make_key("partner", committee_id=c["id"]) for c in committees]
    keys += [await make_key("partner", organization_id=o["id"]) for o in organizations]
    return body, keys, body["committee_ids"] + body["organization_ids"]


async def sign(
    client: httpx.AsyncClient, headers: Headers, memorandum: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/memoranda/{memorandum['id']}:sign", json=body, headers=headers)


async def signed_events(session: AsyncSession, memorandum_id: str) -> int:
    """How many memorandum.signed events the outbox holds for this memorandum."""
    rows = (
        await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "memorandum.signed"))
    ).all()
    return sum(row.payload["id"] == memorandum_id for row in rows)


async def test_a_memorandum_is_signed_when_each_signatory_has_signed(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, session: AsyncSession
) -> None:
    body, keys, party_ids = await five_signatories(client, admin, make_key)
    created = await client.post("/v1/memoranda", json=body, headers=keys[0])
    assert created.status_code == 201, created.text
    memorandum = created.json()
    assert memorandum["state"] == "proposed" and memorandum["next_states"] == []
    assert await signed_events(session, memorandum["id"]) == 0
    signed = [s["signature"] is not None for s in memorandum["signatories"]]
    assert signed == [True, False, False, False, False]
    assert memorandum["signatories"][0]["signature"]["actor"]["role"] == "partner"

    early = await move(client, keys[0], memorandum, "active")
    assert early.status_code == 409
    assert early.json()["code"] == "signatures_missing"
    assert early.json()["awaiting"] == party_ids[1:]

    again = await sign(client, keys[0], memorandum)
    assert again.status_code == 409 and again.json()["code"] == "already_signed"
    assert again.json()["awaiting"] == party_ids[1:]
    for_another = await sign(client, keys[1], memorandum, party_id=party_ids[2])
    assert for_another.status_code == 403 and for_another.json()["code"] == "not_a_party"
    anonymous_admin = await sign(client, admin, memorandum)
    assert anonymous_admin.status_code == 422
    assert anonymous_admin.json()["code"] == "signatory_required"
    assert all(p in anonymous_admin.json()["detail"] for p in party_ids[1:])
    stranger = await sign(client, admin, memorandum, party_id=random_id())
    assert stranger.status_code == 422 and stranger.json()["code"] == "unknown_party"

    for key in keys[1:4]:
        answer = await sign(client, key, memorandum, note="同意")
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "proposed"
    last = await sign(client, admin, memorandum, party_id=party_ids[4], note="代签")
    assert last.status_code == 200, last.text
    memorandum = last.json()
    assert memorandum["state"] == "signed" and memorandum["next_states"] == ["active"]
    assert await signed_events(session, memorandum["id"]) == 1
    assert last.headers["etag"] == f'"{memorandum["version"]}"' == '"6"'
    signatures = [s["signature"] for s in memorandum["signatories"]]
    assert [s["actor"]["role"] for s in signatures] == ["partner"] * 4 + ["admin"]
    assert [s["note"] for s in signatures] == ["", "同意", "同意", "同意", "代签"]
    assert len({s["actor"]["key_id"] for s in signatures}) == 5
    assert [s["at"] for s in signatures] == sorted(s["at"] for s in signatures)
    history = (await client.get(f"/v1/memoranda/{memorandum['id']}/history", headers=admin)).json()
    assert [(h["from_state"], h["to_state"]) for h in history["items"]] == [
        (None, "proposed"),
        ("proposed", "signed"),
    ]
    done = await sign(client, keys[1], memorandum)
    assert done.status_code == 409 and done.json()["awaiting"] == []
    assert (await move(client, keys[3], memorandum, "active")).status_code == 200


async def test_termination_takes_all_signatories_or_an_admin(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    body, keys, party_ids = await five_signatories(client, admin, make_key)
    memorandum = (await client.post("/v1/memoranda", json=body, headers=admin)).json()
    assert memorandum["state"] == "signed"
    assert all(s["signature"]["actor"]["role"] == "admin" for s in memorandum["signatories"])
    memorandum = (await move(client, keys[2], memorandum, "active")).json()

    for n, key in enumerate(keys[:4], start=1):
        asked = await move(client, key, memorandum, "terminated")
        assert asked.status_code == 202, asked.text
        memorandum = asked.json()
        assert memorandum["state"] == "active"
        requested = [s["termination_request"] is not None for s in memorandum["signatories"]]
        assert sum(requested) == n
    twice = await move(client, keys[0], memorandum, "terminated")
    assert twice.status_code == 409
    assert twice.json()["code"] == "termination_already_requested"
    assert twice.json()["awaiting"] == [party_ids[4]]
    assert party_ids[4] in twice.json()["detail"]

    last = await move(client, keys[4], memorandum, "terminated")
    assert last.status_code == 200, last.text
    assert last.json()["state"] == "terminated"
    history = (await client.get(f"/v1/memoranda/{memorandum['id']}/history", headers=admin)).json()
    assert [(h["to_state"], h["actor"]["role"]) for h in history["items"]] == [
        ("signed", "admin"),
        ("active", "partner"),
        ("terminated", "partner"),
    ]

    other = (await client.post("/v1/memoranda", json=body, headers=admin)).json()
    other = (await move(client, admin, other, "active")).json()
    one = await move(client, keys[1], other, "terminated")
    assert one.status_code == 202 and one.json()["state"] == "active"
    by_admin = await move(client, admin, one.json(), "terminated")
    assert by_admin.status_code == 200 and by_admin.json()["state"] == "terminated"


async def test_a_patch_that_changes_nothing_keeps_the_etag(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    memorandum = await create(client, admin)
    await unchanged_then_changed(
        client,
        admin,
        f"/v1/memoranda/{memorandum['id']}",
        {"notes": memorandum["notes"]},
        {"notes": "原件存于温州市市场监督管理局。"},
    )
