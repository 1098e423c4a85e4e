"""The schedule over HTTP: hard rules on the demo, fill mode, unmet needs, publishing, grid."""

import asyncio
import csv
import io
from collections import Counter
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import OutboxEvent
from tests.support import WAIT, Headers, KeyFactory, Workers, parties, small_event


async def all_meetings(
    client: httpx.AsyncClient, admin: Headers, event_id: str, schedule: str = "published"
) -> list[dict[str, Any]]:
    return (
        await client.get(
            f"/v1/events/{event_id}/meetings",
            params={"limit": 500, "schedule": schedule},
            headers=admin,
        )
    ).json()["items"]


async def test_demo_schedule_keeps_every_hard_rule(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    event_id, committees, organizations = await parties(client, admin)
    registered = {p["id"]: p for p in committees + organizations}
    built = await client.post(
        f"/v1/events/{event_id}/schedule",
        json={"time_limit_seconds": 10},
        headers={**admin, **WAIT},
    )
    assert built.status_code == 201, built.text
    summary = built.json()
    assert summary["state"] == "draft" and summary["status"] in ("optimal", "feasible")
    assert summary["weight_bound"] >= summary["total_weight"] > 0
    assert summary["gap"] == round(
        (summary["weight_bound"] - summary["total_weight"]) / summary["weight_bound"], 6
    )
    meetings = await all_meetings(client, admin, event_id, "draft")
    assert len(meetings) == summary["meetings"] > 0
    assert await all_meetings(client, admin, event_id) == []  # not published yet

    per_slot = Counter()
    tables: dict[str, set[int]] = {}
    for m in meetings:
        c, o = m["committee"]["participant_id"], m["organization"]["participant_id"]
        per_slot[(c, m["slot"])] += 1
        per_slot[(o, m["slot"])] += 1
        per_slot[("table", m["table"], m["slot"])] += 1
        tables.setdefault(c, set()).add(m["table"])
        assert m["slot"] not in registered[c]["unavailable_slots"]
        assert m["slot"] not in registered[o]["unavailable_slots"]
    assert max(per_slot.values()) == 1
    assert all(len(t) == 1 for t in tables.values())  # a committee keeps its table
    pairs = Counter(
        (m["committee"]["participant_id"], m["organization"]["participant_id"]) for m in meetings
    )
    assert max(pairs.values()) == 1
    counts = Counter(
        p
        for m in meetings
        for p in (m["committee"]["participant_id"], m["organization"]["participant_id"])
    )
    assert all(counts[pid] <= p["max_meetings"] for pid, p in registered.items())

    vetoes = (
        await client.get(f"/v1/events/{event_id}/preferences", params={"limit": 500}, headers=admin)
    ).json()["items"]
    forbidden = {
        frozenset((v["participant_id"], v["counterpart_id"]))
        for v in vetoes
        if v["kind"] == "do_not_meet"
    }
    assert forbidden
    assert not forbidden & {frozenset(p) for p in pairs}
    requests = (
        await client.get(
            f"/v1/events/{event_id}/meeting-requests",
            params={"limit": 500, "state": "accepted"},
            headers=admin,
        )
    ).json()["items"]
    placed = {frozenset(p) for p in pairs}
    unmet = {
        frozenset(p["participant_id"] for p in u["participants"])
        for u in summary["unmet"]
        if u["kind"] == "required_pair"
    }
    for r in requests:
        pair = frozenset((r["from_participant_id"], r["to_participant_id"]))
        assert pair in placed or pair in unmet


async def test_unmet_least_meetings_is_listed_with_a_reason(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    _, committees, organizations = await parties(client, admin)
    pet_committee = next(c for c in committees if c["party"]["designation"] == "SAC/TC 181")
    pet_org = next(o for o in organizations if "宠" in o["party"]["name_zh"])
    busy = {pet_org["id"]: {"unavailable_slots": [1, 2, 3], "min_meetings": 1}}
    event_id, _registered = await small_event(client, admin, [pet_committee], [pet_org], **busy)
    summary = (
        await client.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    ).json()
    assert summary["meetings"] == 0
    below = [u for u in summary["unmet"] if u["kind"] == "below_min"]
    assert below and below[0]["participants"][0]["name_zh"] == pet_org["party"]["name_zh"]
    assert below[0]["reason"]


async def test_fill_mode_changes_nothing_scheduled(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    _, committees, organizations = await parties(client, admin)
    event_id, _registered = await small_event(client, admin, committees[:3], organizations[:6])
    await client.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    first = await all_meetings(client, admin, event_id)
    # Free a slot, then ask to fill: everything else must stay exactly where it was.
    victim = first[0]
    await client.patch(
        f"/v1/events/{event_id}/meetings/{victim['id']}",
        json={"status": "cancelled"},
        headers={**admin, "If-Match": f'"{victim["version"]}"'},
    )
    kept = {
        (
            m["committee"]["participant_id"],
            m["organization"]["participant_id"],
            m["slot"],
            m["table"],
        )
        for m in first[1:]
    }
    filled = await client.post(
        f"/v1/events/{event_id}/schedule", json={"mode": "fill"}, headers={**admin, **WAIT}
    )
    assert filled.status_code == 201, filled.text
    draft = await all_meetings(client, admin, event_id, "draft")
    placed = {
        (
            m["committee"]["participant_id"],
            m["organization"]["participant_id"],
            m["slot"],
            m["table"],
        )
        for m in draft
    }
    assert kept <= placed


async def test_publish_supersedes_tells_partners_and_grid_exports(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession
) -> None:
    _, committees, organizations = await parties(client, admin)
    event_id, _ = await small_event(client, admin, committees[:2], organizations[:4])
    nothing = await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    assert nothing.status_code == 409 and nothing.json()["code"] == "no_draft"
    await client.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    first = (await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)).json()
    assert first["state"] == "published" and first["published_at"]
    await client.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    second = (await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)).json()
    told = (
        await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "schedule.published"))
    ).all()
    assert [e.payload["schedule_id"] for e in told] == [first["id"], second["id"]]
    current = (await client.get(f"/v1/events/{event_id}/schedule", headers=admin)).json()
    assert current["published"]["id"] == second["id"] != first["id"] and current["draft"] is None
    meetings = await all_meetings(client, admin, event_id)
    xlsx = await client.get(
        f"/v1/events/{event_id}/schedule:export", params={"format": "xlsx"}, headers=admin
    )
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("slot", "time", "table 1") and len(rows) == 1 + 3
    filled = [cell for row in rows[1:] for cell in row[2:] if cell]
    assert len(filled) == len(meetings)
    assert all(" × " in cell for cell in filled)
    text = (
        await client.get(
            f"/v1/events/{event_id}/schedule:export", params={"format": "csv"}, headers=admin
        )
    ).content
    parsed = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert parsed[1][1] == "09:00–09:20"


async def test_publish_with_if_match_publishes_only_the_draft_reviewed(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    _, committees, organizations = await parties(client, admin)
    event_id, _ = await small_event(client, admin, committees[:2], organizations[:4])
    url = f"/v1/events/{event_id}/schedule"
    reviewed = await client.post(url, json={}, headers={**admin, **WAIT})
    assert reviewed.headers["etag"] == f'"{reviewed.json()["id"]}"'
    # Another organizer builds again before the first one publishes what they reviewed.
    rebuilt = await client.post(url, json={}, headers={**admin, **WAIT})
    stale = await client.post(
        f"{url}:publish", headers={**admin, "If-Match": reviewed.headers["etag"]}
    )
    assert stale.status_code == 412 and stale.json()["current_etag"] == rebuilt.headers["etag"]
    assert (await client.get(url, headers=admin)).json()["published"] is None
    published = await client.post(
        f"{url}:publish", headers={**admin, "If-Match": rebuilt.headers["etag"]}
    )
    assert published.status_code == 200 and published.json()["id"] == rebuilt.json()["id"]
    assert published.headers["etag"] == rebuilt.headers["etag"]


async def test_two_clients_placing_into_one_slot_get_one_201_and_one_409(
    two_workers: Workers,
    committed_key: KeyFactory,
    build_worker: None,
) -> None:
    admin = await committed_key("admin")
    a, b = two_workers
    _, committees, organizations = await parties(a, admin)
    event_id, registered = await small_event(a, admin, committees[:2], organizations[:1])
    c1, c2, o1 = registered
    await a.post(f"/v1/events/{event_id}/schedule", json={}, headers={**admin, **WAIT})
    await a.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    for m in await all_meetings(a, admin, event_id):
        await a.patch(
            f"/v1/events/{event_id}/meetings/{m['id']}",
            json={"status": "cancelled"},
            headers={**admin, "If-Match": f'"{m["version"]}"'},
        )
    racing = await asyncio.gather(
        a.post(
            f"/v1/events/{event_id}/meetings",
            json={
                "committee_participant_id": c1["id"],
                "organization_participant_id": o1["id"],
                "slot": 2,
            },
            headers=admin,
        ),
        b.post(
            f"/v1/events/{event_id}/meetings",
            json={
                "committee_participant_id": c2["id"],
                "organization_participant_id": o1["id"],
                "slot": 2,
            },
            headers=admin,
        ),
    )
    assert sorted(r.status_code for r in racing) == [201, 409]
    live = [m for m in await all_meetings(a, admin, event_id) if m["status"] != "cancelled"]
    assert len(live) == 1
    await a.delete(f"/v1/events/{event_id}", headers={**admin, "If-Match": '"1"'})


async def test_two_organizers_publishing_at_once_publish_the_draft_once(
    two_workers: Workers,
    committed_key: KeyFactory,
    build_worker: None,
) -> None:
    admin = await committed_key("admin")
    a, b = two_workers
    _, committees, organizations = await parties(a, admin)
    event_id, _ = await small_event(a, admin, committees[:2], organizations[:2])
    url = f"/v1/events/{event_id}/schedule"
    draft = await a.post(url, json={}, headers={**admin, **WAIT})
    tagged = {**admin, "If-Match": draft.headers["etag"]}
    racing = await asyncio.gather(
        a.post(f"{url}:publish", headers=tagged), b.post(f"{url}:publish", headers=tagged)
    )
    # The draft is locked: the second finds it published, no draft left, and says so.
    assert sorted(r.status_code for r in racing) == [200, 409]
    assert [r.json()["code"] for r in racing if r.status_code == 409] == ["no_draft"]
    current = (await a.get(url, headers=admin)).json()
    assert current["published"]["id"] == draft.json()["id"] and current["draft"] is None
    await a.delete(f"/v1/events/{event_id}", headers={**admin, "If-Match": '"1"'})
