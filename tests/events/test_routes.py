"""Events and registrations: slots, parties, badges, personal data, search, rosters."""

import asyncio
import io
import itertools
import string
from typing import Any
from unittest.mock import patch

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import text

from service.badges import ALPHABET
from service.events import service as events_service
from service.participants import service as participants_service
from tests.support import EVENT, Headers, KeyFactory, Workers, slots

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_demo_event_has_8_slots_22_tables_57_parties(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    assert len(event["slots"]) == 8 and event["tables"] == 22 and event["state"] == "open"
    lengths = {s["end"][11:16] for s in event["slots"]}
    assert len(lengths) == 8
    participants = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
        )
    ).json()["items"]
    assert len(participants) == 57
    kinds = [p["party"]["kind"] for p in participants]
    assert kinds.count("committee") == 22
    assert all(p["people"] for p in participants)


async def test_slots_must_be_equal_and_ordered(client: httpx.AsyncClient, admin: Headers) -> None:
    unequal = [
        *slots(2),
        {"start": "2025-10-10T12:00:00+08:00", "end": "2025-10-10T12:30:00+08:00"},
    ]
    response = await client.post("/v1/events", json={**EVENT, "slots": unequal}, headers=admin)
    assert response.status_code == 422
    assert "equal length" in response.json()["detail"]
    naive = [{"start": "2025-10-10T09:00:00", "end": "2025-10-10T09:20:00"}]
    assert (
        await client.post("/v1/events", json={**EVENT, "slots": naive}, headers=admin)
    ).status_code == 422
    bad_zone = await client.post(
        "/v1/events", json={**EVENT, "timezone": "Mars/Olympus"}, headers=admin
    )
    assert bad_zone.status_code == 422


async def test_a_badge_code_drawn_twice_is_drawn_again(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    first, second = (await client.get("/v1/committees", headers=admin)).json()["items"][:2]
    url = f"/v1/events/{event['id']}/participants"
    person = {"people": [{"name": "刘宇宁"}]}
    taken = (
        await client.post(url, json={"committee_id": first["id"], **person}, headers=admin)
    ).json()
    draws = iter([taken["badge_code"], "K7Q-4HD-9WM"])  # 46 random bits: forced here
    with patch.object(participants_service, "new_badge_code", lambda: next(draws)):
        again = await client.post(url, json={"committee_id": second["id"], **person}, headers=admin)
    assert again.status_code == 201, again.text
    assert again.json()["badge_code"] == "K7Q-4HD-9WM"
    listed = (await client.get(url, params={"limit": 500}, headers=admin)).json()["items"]
    assert sorted(p["badge_code"] for p in listed) == sorted([taken["badge_code"], "K7Q-4HD-9WM"])


async def test_register_once_with_badge_and_clear_errors(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    committee = (await client.get("/v1/committees", headers=admin)).json()["items"][0]
    url = f"/v1/events/{event['id']}/participants"
    body = {"committee_id": committee["id"], "people": [{"name": "刘宇宁", "title": "秘书长"}]}
    created = await client.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    participant = created.json()
    assert participant["max_meetings"] == 3  # defaults to the number of slots
    code = participant["badge_code"].replace("-", "")
    assert len(code) == 10 and set(code) <= set(ALPHABET)
    again = await client.post(url, json=body, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "already_registered"
    ghost = await client.post(url, json={**body, "committee_id": event["id"]}, headers=admin)
    assert ghost.status_code == 422 and ghost.json()["code"] == "unknown_party"
    both = await client.post(url, json={**body, "organization_id": committee["id"]}, headers=admin)
    assert both.status_code == 422
    other = (await client.get("/v1/committees", headers=admin)).json()["items"][1]
    out_of_range = await client.post(
        url, json={**body, "committee_id": other["id"], "unavailable_slots": [4]}, headers=admin
    )
    assert out_of_range.status_code == 422 and out_of_range.json()["code"] == "slot_out_of_range"


def test_badge_alphabet_has_no_look_alikes_and_enough_entropy() -> None:
    assert not set(ALPHABET) & set("0O1IL2Z5S8B")
    assert set(ALPHABET) <= set(string.ascii_uppercase + string.digits)
    assert len(ALPHABET) ** 10 >= 2**40


async def test_badge_codes_are_distinct_and_not_sequential(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    codes = [
        p["badge_code"]
        for p in (
            await client.get(
                f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
            )
        ).json()["items"]
    ]
    assert len(set(codes)) == 57
    # Registered one after another, yet neighbouring codes share no common prefix pattern.
    shared_prefixes = sum(a[:3] == b[:3] for a, b in itertools.pairwise(codes))
    assert shared_prefixes <= 2


@pytest.mark.parametrize("kind", ["png", "svg"])
async def test_badge_qr_decodes_to_the_badge_code(
    client: httpx.AsyncClient, admin: Headers, kind: str, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    participant = (
        await client.get(f"/v1/events/{event['id']}/participants", headers=admin)
    ).json()["items"][0]
    response = await client.get(
        f"/v1/events/{event['id']}/participants/{participant['id']}/badge.{kind}", headers=admin
    )
    assert response.status_code == 200
    if kind == "svg":
        assert response.headers["content-type"] == "image/svg+xml"
        assert participant["badge_code"].encode() in response.content  # in the title
        return
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    decoded = zxingcpp.read_barcodes(image)
    assert [d.text for d in decoded] == [participant["badge_code"]]


async def test_contacts_and_badges_only_for_admin_kiosk_and_own_party(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/participants"
    everyone = (await client.get(url, params={"limit": 500}, headers=admin)).json()["items"]
    own, other = everyone[0], everyone[1]
    party = own["party"]
    partner = await make_key(
        "partner",
        **{f"{'committee' if party['kind'] == 'committee' else 'organization'}_id": party["id"]},
    )
    seen = {
        p["id"]: p
        for p in (await client.get(url, params={"limit": 500}, headers=partner)).json()["items"]
    }
    assert seen[own["id"]]["people"][0]["phone"] == own["people"][0]["phone"] is not None
    assert seen[own["id"]]["badge_code"] == own["badge_code"]
    assert seen[other["id"]]["people"][0]["name"] == other["people"][0]["name"]
    assert (
        seen[other["id"]]["people"][0]["phone"] is None
        and seen[other["id"]]["people"][0]["email"] is None
    )
    assert seen[other["id"]]["badge_code"] is None
    badge = await client.get(f"{url}/{other['id']}/badge.png", headers=partner)
    assert badge.status_code == 404
    kiosk = await make_key("kiosk")
    at_door = (await client.get(f"{url}/{other['id']}", headers=kiosk)).json()
    assert at_door["badge_code"] == other["badge_code"] and at_door["people"][0]["phone"] is None


async def test_partner_edits_only_its_own_registration(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/participants"
    own, other = (await client.get(url, params={"limit": 2}, headers=admin)).json()["items"]
    kind = "committee" if own["party"]["kind"] == "committee" else "organization"
    partner = await make_key("partner", **{f"{kind}_id": own["party"]["id"]})
    mine = await client.patch(
        f"{url}/{own['id']}",
        json={"unavailable_slots": [8]},
        headers={**partner, "If-Match": f'"{own["version"]}"'},
    )
    assert mine.status_code == 200 and mine.json()["unavailable_slots"] == [8]
    assert mine.json()["version"] == own["version"] + 1
    # The same patch again changes nothing: the version, and so the ETag, stay.
    same = await client.patch(
        f"{url}/{own['id']}",
        json={"unavailable_slots": [8], "people": mine.json()["people"]},
        headers={**partner, "If-Match": mine.headers["etag"]},
    )
    assert same.status_code == 200 and same.headers["etag"] == mine.headers["etag"]
    assert same.json() == mine.json()
    theirs = await client.patch(
        f"{url}/{other['id']}",
        json={"unavailable_slots": [8]},
        headers={**partner, "If-Match": f'"{other["version"]}"'},
    )
    assert theirs.status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("温州瓯江智能装备", "温州瓯江智能装备有限公司"),
        ("溫州甌江智能裝備", "温州瓯江智能装备有限公司"),
        ("wenzhououjiangzhineng", "温州瓯江智能装备有限公司"),
        ("wzojzn", "温州瓯江智能装备有限公司"),
        ("shuzimaoyi", None),
    ],
)
async def test_search_by_either_script_pinyin_and_initials(
    client: httpx.AsyncClient,
    admin: Headers,
    query: str,
    expected: str | None,
    demo_event: dict[str, Any],
) -> None:
    event = demo_event
    found = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"q": query}, headers=admin
        )
    ).json()["items"]
    assert found, query
    if expected:
        assert found[0]["party"]["name_zh"] == expected
    else:
        assert any(
            "数字贸易" in p["party"]["name_zh"] or "數字貿易" in p["party"]["name_zh"]
            for p in found
        )


async def test_search_finds_people_by_name_pinyin_badge_and_phone(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/participants"
    target = (await client.get(url, params={"limit": 5}, headers=admin)).json()["items"][4]
    person = target["people"][0]
    for query in (
        person["name"],
        target["badge_code"],
        target["badge_code"].replace("-", "").lower(),
        person["phone"][-4:],
    ):
        found = (await client.get(url, params={"q": query}, headers=admin)).json()["items"]
        assert found and found[0]["id"] == target["id"], query
    from service.chinese import pinyin_forms

    full, _initials = pinyin_forms(person["name"])
    by_pinyin = (await client.get(url, params={"q": full}, headers=admin)).json()["items"]
    assert target["id"] in [p["id"] for p in by_pinyin]
    assert by_pinyin[0]["id"] == target["id"] or any(
        pinyin_forms(p["name"])[0] == full for r in by_pinyin[:1] for p in r["people"]
    )


async def test_search_ranks_exact_before_partial(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    found = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"q": "温州"}, headers=admin
        )
    ).json()["items"]
    assert len(found) >= 10
    # Names starting with the query come before names merely containing it.
    starts = [
        p["party"]["name_zh"].startswith("温州") or p["party"]["name_zh"].startswith("溫州")
        for p in found
    ]
    assert starts == sorted(starts, reverse=True)


async def test_a_search_pages_on_in_its_order(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/participants"
    whole = (await client.get(url, params={"q": "温州", "limit": 500}, headers=admin)).json()
    assert whole["next_cursor"] is None and len(whole["items"]) >= 10
    pages, cursor = [], None
    while True:
        params = {"q": "温州", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=admin)).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [p["id"] for items in pages for p in items] == [p["id"] for p in whole["items"]]
    assert all(len(items) == 3 for items in pages[:-1])
    # A listing's cursor is not a search's: 422, not a silently different page.
    listing = (await client.get(url, params={"limit": 2}, headers=admin)).json()["next_cursor"]
    wrong = await client.get(url, params={"q": "温州", "cursor": listing}, headers=admin)
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_cursor"
    # Nor is another search's.
    first = (await client.get(url, params={"q": "温州", "limit": 3}, headers=admin)).json()
    other = await client.get(url, params={"q": "温", "cursor": first["next_cursor"]}, headers=admin)
    assert other.status_code == 422 and "another search" in other.json()["detail"]


async def test_roster_import_registers_all_or_nothing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    url = f"/v1/events/{event['id']}/participants"
    good = (
        "party,person_name,person_title,person_phone,person_email,unavailable_slots,min_meetings,max_meetings\n"
        "IEC TC 111,林晓雯,秘书,+86 10 5555 0111,lin@example.org,3,1,2\n"
        "IEC TC 111,王二,专家,,,,,\n"
        "温州瓯江智能装备有限公司,陈总,总经理,+86 138 0000 1234,,,,\n"
    )
    bad = good + "不存在的单位,某人,,,,,,\n" + "ISO/TC 299,,,,,,,\n"
    refused = await client.post(
        f"{url}:import", content=bad.encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert refused.status_code == 422
    assert {(e["row"], e["field"]) for e in refused.json()["errors"]} >= {
        (5, "party"),
        (6, "person_name"),
    }
    assert (await client.get(url, headers=admin)).json()["items"] == []
    accepted = await client.post(
        f"{url}:import", content=good.encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert accepted.json() == {"created": 2, "updated": 0, "unchanged": 0}
    registered = {
        p["party"]["name_zh"]: p for p in (await client.get(url, headers=admin)).json()["items"]
    }
    tc111 = next(p for p in registered.values() if p["party"]["designation"] == "IEC TC 111")
    assert [p["name"] for p in tc111["people"]] == ["林晓雯", "王二"]
    assert tc111["unavailable_slots"] == [3] and (tc111["min_meetings"], tc111["max_meetings"]) == (
        1,
        2,
    )
    again = await client.post(
        f"{url}:import", content=good.encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2}
    changed = good.replace("王二,专家", "王二,高级专家")
    third = await client.post(
        f"{url}:import", content=changed.encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert third.json() == {"created": 0, "updated": 1, "unchanged": 1}


async def test_deleting_a_registered_committee_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    committee = (
        await client.get("/v1/committees", params={"q": "IEC TC 111"}, headers=admin)
    ).json()["items"][0]
    response = await client.delete(
        f"/v1/committees/{committee['id']}",
        headers={**admin, "If-Match": f'"{committee["version"]}"'},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "in_use"
    assert (await client.get(f"/v1/committees/{committee['id']}", headers=admin)).status_code == 200


async def test_event_patch_and_kiosk_bound_to_one_event(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    created = await client.post("/v1/events", json=EVENT, headers=admin)
    event = created.json()
    opened = await client.patch(
        f"/v1/events/{event['id']}",
        json={"state": "open"},
        headers={**admin, "If-Match": created.headers["etag"]},
    )
    assert opened.json()["state"] == "open"
    demo = demo_event
    kiosk = await make_key("kiosk", event_id=event["id"])
    assert (
        await client.get(f"/v1/events/{event['id']}/participants", headers=kiosk)
    ).status_code == 200
    other = await client.get(f"/v1/events/{demo['id']}/participants", headers=kiosk)
    assert other.status_code == 403 and other.json()["code"] == "event_not_allowed"


async def test_deleting_an_event_that_intents_refer_to_is_refused(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    response = await client.delete(
        f"/v1/events/{event['id']}", headers={**admin, "If-Match": f'"{event["version"]}"'}
    )
    assert response.status_code == 409 and response.json()["code"] == "in_use"
    assert (await client.get(f"/v1/events/{event['id']}", headers=admin)).status_code == 200


async def test_roster_import_reads_xlsx_too(client: httpx.AsyncClient, admin: Headers) -> None:
    from openpyxl import Workbook

    event = (await client.post("/v1/events", json=EVENT, headers=admin)).json()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["party", "person_name", "person_title", "min_meetings"])
    sheet.append(["ISO/TC 299", "周敏", "委员会秘书", 2])
    sheet.append(["杭州钱塘具身智能研究院", "钱一", "所长", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = await client.post(
        f"/v1/events/{event['id']}/participants:import",
        content=buffer.getvalue(),
        headers={**admin, "Content-Type": XLSX},
    )
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    registered = (await client.get(f"/v1/events/{event['id']}/participants", headers=admin)).json()
    by_name = {p["people"][0]["name"]: p for p in registered["items"]}
    assert by_name["周敏"]["party"]["designation"] == "ISO/TC 299"
    assert by_name["周敏"]["min_meetings"] == 2
    assert by_name["钱一"]["party"]["kind"] == "institute"


async def test_deleting_an_event_cannot_race_a_check_in(
    two_workers: Workers,
    committed_key: KeyFactory,
    committed_app: Any,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker a deletes the event and stops right after counting its check-ins; worker b checks
    someone in then. Either the check-in waits and finds no event, or the delete is refused:
    never a 201 whose check-in the delete then takes with it."""
    if not is_postgres:
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL's row locks")
    admin = await committed_key("admin")
    kiosk = await committed_key("kiosk")
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
    counted, go = asyncio.Event(), asyncio.Event()
    real_delete = events_service.delete_unless_referred

    async def delete_after_a_pause(*args: Any, **kwargs: Any) -> None:
        counted.set()
        await go.wait()
        await real_delete(*args, **kwargs)

    monkeypatch.setattr(events_service, "delete_unless_referred", delete_after_a_pause)
    deleting = asyncio.create_task(
        a.delete(f"/v1/events/{event['id']}", headers={**admin, "If-Match": '"1"'})
    )
    await asyncio.wait_for(counted.wait(), 10)
    checking_in = asyncio.create_task(
        b.post(
            f"/v1/events/{event['id']}/checkins",
            json={"badge_code": participant["badge_code"]},
            headers=kiosk,
        )
    )
    # Let the check-in run until it has answered or waits on a lock, whichever comes first.
    async with committed_app.state.engine.connect() as probe:
        for _ in range(1000):
            waiting = await probe.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if checking_in.done() or waiting:
                break
            await asyncio.sleep(0.01)
    go.set()
    deleted, checked_in = await asyncio.gather(deleting, checking_in)
    outcome = (deleted.status_code, checked_in.status_code)
    assert outcome in ((204, 404), (409, 201)), (deleted.text, checked_in.text)
    if checked_in.status_code == 201:
        status = await a.get(f"/v1/events/{event['id']}/checkins/status", headers=admin)
        assert status.json()["total"]["checked_in"] == 1
