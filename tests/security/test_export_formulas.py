"""A partner's name that is a formula stays text in every export, CSV and XLSX alike."""

import csv
import io
import zipfile
from typing import Any

import httpx
from openpyxl import load_workbook

from service.spreadsheets import XLSX_MEDIA_TYPE, read_table, write_csv, write_xlsx
from tests.support import Headers, KeyFactory, key_for, parties, small_event

FORMULA = '=HYPERLINK("http://x","click")'


async def _partner_renames(
    client: httpx.AsyncClient, make_key: KeyFactory, *, kind: str, party_id: str, **names: str
) -> None:
    """The party's own partner key sets its names, as any partner may."""
    binding = {"committee_id" if kind == "committees" else "organization_id": party_id}
    partner = await make_key("partner", **binding)
    url = f"/v1/{kind}/{party_id}"
    read = await client.get(url, headers=partner)
    patched = await client.patch(
        url, json=names, headers={**partner, "If-Match": read.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text


def _csv_cells(content: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for cell in row]


def _assert_no_formula_in_csv(content: bytes, planted: str) -> None:
    cells = _csv_cells(content)
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert any(c.startswith("'" + planted) for c in cells), "the planted name is not exported"


def _assert_no_formula_in_xlsx(content: bytes, planted: str) -> None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml
    sheet = load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert all(cell.data_type == "s" for cell in cells)
    assert not any(c.value.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert any(c.value.startswith("'" + planted) for c in cells), "the planted name is missing"


async def _both_formats(
    client: httpx.AsyncClient, url: str, admin: Headers, planted: str, **params: Any
) -> None:
    as_csv = await client.get(url, params={**params, "format": "csv"}, headers=admin)
    assert as_csv.status_code == 200, as_csv.text
    _assert_no_formula_in_csv(as_csv.content, planted)
    as_xlsx = await client.get(url, params={**params, "format": "xlsx"}, headers=admin)
    assert as_xlsx.status_code == 200, as_xlsx.text
    _assert_no_formula_in_xlsx(as_xlsx.content, planted)


async def test_organizations_export_writes_a_partners_formula_as_text(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    organization = (
        await client.get("/v1/organizations", params={"limit": 1}, headers=admin)
    ).json()["items"][0]
    await _partner_renames(
        client, make_key, kind="organizations", party_id=organization["id"], name_en=FORMULA
    )
    await _both_formats(client, "/v1/organizations:export", admin, FORMULA)


async def test_committees_export_writes_a_partners_formula_as_text(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    committee = (await client.get("/v1/committees", params={"limit": 1}, headers=admin)).json()[
        "items"
    ][0]
    await _partner_renames(
        client, make_key, kind="committees", party_id=committee["id"], name_en=FORMULA
    )
    await _both_formats(client, "/v1/committees:export", admin, FORMULA)


async def test_schedule_export_writes_a_partners_formula_as_text(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    _, committees, organizations = await parties(client, admin)
    # The grid shows the parties' Chinese names, so that is the one planted here.
    planted = committees[0]
    kind, party_id = next(iter(key_for(planted).items()))
    await _partner_renames(
        client,
        make_key,
        kind="committees" if kind == "committee_id" else "organizations",
        party_id=party_id,
        name_zh=FORMULA,
        name_en=FORMULA,
    )
    event_id, _ = await small_event(client, admin, committees[:1], organizations[:3])
    # Whatever these pairs score, they meet: the export must have the planted name to show.
    read = await client.get(f"/v1/events/{event_id}", headers=admin)
    floor = await client.patch(
        f"/v1/events/{event_id}",
        json={"min_meeting_score": 0},
        headers={**admin, "If-Match": read.headers["ETag"]},
    )
    assert floor.status_code == 200, floor.text
    assert (
        await client.post(f"/v1/events/{event_id}/schedule", json={}, headers=admin)
    ).status_code in (200, 201, 202)
    published = await client.post(f"/v1/events/{event_id}/schedule:publish", headers=admin)
    assert published.status_code == 200, published.text
    await _both_formats(client, f"/v1/events/{event_id}/schedule:export", admin, FORMULA)


async def test_report_export_writes_a_partners_formula_as_text(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, demo_event: dict[str, Any]
) -> None:
    event = demo_event
    url = f"/v1/events/{event['id']}/report"
    report = (await client.get(url, headers=admin)).json()
    missed = report["best_matches_not_met"][0]["committee"]["participant_id"]
    participant = (
        await client.get(f"/v1/events/{event['id']}/participants/{missed}", headers=admin)
    ).json()
    await _partner_renames(
        client,
        make_key,
        kind="committees",
        party_id=participant["party"]["id"],
        name_zh=FORMULA,
    )
    await _both_formats(client, url, admin, FORMULA)


async def test_a_neutralized_name_imported_back_is_the_name_as_the_partner_set_it(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    organization = (
        await client.get("/v1/organizations", params={"limit": 1}, headers=admin)
    ).json()["items"][0]
    await _partner_renames(
        client, make_key, kind="organizations", party_id=organization["id"], name_en=FORMULA
    )
    for file_format, media_type in (("csv", "text/csv"), ("xlsx", XLSX_MEDIA_TYPE)):
        exported = await client.get(
            "/v1/organizations:export", params={"format": file_format}, headers=admin
        )
        imported = await client.post(
            "/v1/organizations:import",
            content=exported.content,
            headers={**admin, "Content-Type": media_type},
        )
        assert imported.status_code == 200, imported.text
        shown = (await client.get(f"/v1/organizations/{organization['id']}", headers=admin)).json()
        assert shown["name_en"] == FORMULA, file_format


def test_every_trigger_is_neutralized_and_restored_by_one_writer() -> None:
    values = ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "'quoted", "plain"]
    as_csv = write_csv(["v"], [[v] for v in values])
    assert [c for c in _csv_cells(as_csv)[1:]] == [
        "'=1+1",
        "'+86 138",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "''=x",
        "''quoted",
        "plain",
    ]
    as_xlsx = write_xlsx(["v"], [[v] for v in values], title="t")
    # Read back, each value is what was written (`read_table` strips surrounding space; XML
    # reads a carriage return as a line feed, so XLSX gives "\r" back as "\n").
    assert [row["v"] for _, row in read_table(as_csv)] == [v.strip() for v in values]
    assert [row["v"] for _, row in read_table(as_xlsx)] == [
        v.replace("\r", "\n").strip() for v in values
    ]
    assert write_csv(["n"], [[-3], [1.5]]).decode("utf-8-sig").split() == ["n", "-3", "1.5"]
