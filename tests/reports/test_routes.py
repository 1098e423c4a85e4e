"""Reports: the demo's figures as the source tells them, in JSON, CSV, XLSX and a printable page."""

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.support import WAIT, Headers, KeyFactory


async def test_demo_report_gives_the_figures_of_the_source(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    report = (await client.get(f"/v1/events/{event['id']}/report", headers=admin)).json()
    assert report["participants"]["committee"] == 22
    assert report["participants"]["total"] - report["participants"]["committee"] == 35
    assert report["intents"]["total"] == 14
    assert report["memoranda"]["total"] == 4
    memo_domains = {d["code"] for d in report["memoranda"]["by_domain"]}
    assert {
        "bulk_commodity_storage_transport",
        "ee_product_environment",
        "pet_products",
    } <= memo_domains
    assert sum(report["intents"]["by_state"].values()) == 14
    assert report["checked_in"]["total"] == 0
    assert report["meetings"]["scheduled"] == 0 and len(report["meetings"]["by_slot"]) == 8
    # Nothing was scheduled yet, so the best-matched pairs are all pairs that did not meet.
    scores = [p["score"] for p in report["best_matches_not_met"]]
    assert len(scores) == 10 and scores == sorted(scores, reverse=True) and scores[0] == 100.0


async def test_report_follows_check_ins_and_meetings(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}"
    participant = (await client.get(f"{url}/participants", headers=admin)).json()["items"][0]
    await client.post(
        f"{url}/checkins",
        json={"badge_code": participant["badge_code"]},
        headers=await make_key("kiosk"),
    )
    await client.post(f"{url}/schedule", json={"time_limit_seconds": 5}, headers={**admin, **WAIT})
    await client.post(f"{url}/schedule:publish", headers=admin)
    meeting = (await client.get(f"{url}/meetings", params={"limit": 1}, headers=admin)).json()[
        "items"
    ][0]
    await client.patch(
        f"{url}/meetings/{meeting['id']}",
        json={"status": "held"},
        headers={**admin, "If-Match": '"1"'},
    )
    report = (await client.get(f"{url}/report", headers=admin)).json()
    assert report["checked_in"]["total"] == 1
    assert report["meetings"]["held"] == 1
    assert (
        report["meetings"]["scheduled"]
        == sum(s["meetings"] for s in report["meetings"]["by_slot"])
        > 0
    )
    met = {
        (m["committee"]["participant_id"], m["organization"]["participant_id"])
        for m in (await client.get(f"{url}/meetings", params={"limit": 500}, headers=admin)).json()[
            "items"
        ]
    }
    missed = {
        (p["committee"]["participant_id"], p["organization"]["participant_id"])
        for p in report["best_matches_not_met"]
    }
    assert not met & missed


async def test_report_as_csv_xlsx_and_printable_page(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/report"
    rows = list(
        csv.reader(
            io.StringIO(
                (await client.get(url, params={"format": "csv"}, headers=admin)).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert rows[0] == ["section", "item", "value"]
    assert ["intents", "total", "14"] in rows and ["memoranda", "total", "4"] in rows
    sheet = load_workbook(
        io.BytesIO((await client.get(url, params={"format": "xlsx"}, headers=admin)).content)
    ).active
    assert ("participants", "committee", 22) in list(sheet.iter_rows(values_only=True))
    page = await client.get(url, headers={**admin, "Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    for text in (
        "合作意向",
        "Cooperation intents",
        "合作备忘录",
        "Meetings by slot",
        "<svg",
        "宠物用品",
    ):
        assert text in page.text


async def test_summary_across_events_in_a_date_range(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    covering = (
        await client.get(
            "/v1/reports/summary", params={"from": "2025-09-01", "to": "2025-09-30"}, headers=admin
        )
    ).json()
    assert [e["date"] for e in covering["events"]] == ["2025-09-23"]
    assert covering["intents"]["total"] == 14 and covering["participants"]["total"] == 57
    empty = (
        await client.get("/v1/reports/summary", params={"from": "2026-01-01"}, headers=admin)
    ).json()
    assert empty["events"] == [] and empty["intents"]["total"] == 0
    backwards = await client.get(
        "/v1/reports/summary", params={"from": "2025-10-01", "to": "2025-09-01"}, headers=admin
    )
    assert backwards.status_code == 422
    html = await client.get("/v1/reports/summary", headers={**admin, "Accept": "text/html"})
    assert "汇总报告" in html.text


async def test_missed_pairs_use_the_event_minimum(
    client: httpx.AsyncClient, admin: Headers, demo_event: dict[str, Any]
) -> None:
    """A pair under the event's minimum was never meant to meet unasked: it is not missed."""
    event = demo_event
    url = f"/v1/events/{event['id']}"
    assert event["min_meeting_score"] == 30.0
    read = await client.get(url, headers=admin)
    patched = await client.patch(
        url, json={"min_meeting_score": 95}, headers={**admin, "If-Match": read.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["min_meeting_score"] == 95.0
    report = (await client.get(f"{url}/report", headers=admin)).json()
    scores = [p["score"] for p in report["best_matches_not_met"]]
    assert scores and all(s >= 95 for s in scores)
    bad = await client.patch(
        url,
        json={"min_meeting_score": 101},
        headers={**admin, "If-Match": patched.headers["etag"]},
    )
    assert bad.status_code == 422
