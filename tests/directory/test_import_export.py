"""Rosters in and out: CSV and XLSX, all or nothing, every bad row named, re-import updates."""

import csv
import io
from datetime import datetime

import httpx
from openpyxl import Workbook, load_workbook

from tests.support import Headers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["designation", "level", "name_zh", "name_en", "scope", "domains"]


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


async def test_xlsx_import_creates_then_updates_by_designation(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    rows = [
        HEADER,
        [
            "ZJ/TC 1",
            "provincial",
            "浙江省测试标准化技术委员会",
            "Zhejiang test TC",
            "测试",
            "物联网:0.8; ai:0.5",
        ],
        ["ZJ/TC 2", "provincial", "浙江省第二测试委员会", "Second test TC", "", "綠色低碳"],
    ]
    headers = {**admin, "Content-Type": XLSX}
    first = await client.post("/v1/committees:import", content=xlsx(rows), headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    found = (await client.get("/v1/committees", params={"q": "ZJ/TC 1"}, headers=admin)).json()[
        "items"
    ]
    assert found[0]["domains"] == [
        {"domain": "iot", "weight": 0.8},
        {"domain": "artificial_intelligence", "weight": 0.5},
    ]
    # A new profile is stamped once, as it is inserted: never updated before it was created.
    stamped = [datetime.fromisoformat(found[0][key]) for key in ("created_at", "updated_at")]
    assert stamped[0] <= stamped[1], found[0]
    rows[1][3] = "Renamed test TC"
    again = await client.post("/v1/committees:import", content=xlsx(rows), headers=headers)
    assert again.json() == {"created": 0, "updated": 1, "unchanged": 1}
    listed = (
        await client.get("/v1/committees", params={"q": "ZJ/TC", "limit": 500}, headers=admin)
    ).json()
    assert len(listed["items"]) == 2
    assert {c["name_en"] for c in listed["items"]} == {"Renamed test TC", "Second test TC"}


async def test_any_bad_row_imports_nothing_and_every_bad_row_is_named(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    rows = [
        HEADER,
        ["ZJ/TC 10", "provincial", "好的委员会", "Good TC", "", "iot:1"],
        ["ZJ/TC 11", "planetary", "坏级别", "Bad level", "", "iot:1"],
        ["ZJ/TC 12", "national", "", "No Chinese name", "", "iot:1.5"],
        ["ZJ/TC 13", "national", "未知领域", "Unknown domain", "", "astrology:1"],
        ["ZJ/TC 10", "national", "重复", "Repeated designation", "", "iot:1"],
    ]
    response = await client.post(
        "/v1/committees:import",
        content=csv_bytes(rows),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_rows"
    bad_rows = {(e["row"], e["field"]) for e in problem["errors"]}
    assert (3, "level") in bad_rows
    assert (4, "name_zh") in bad_rows
    assert (4, "domains.0.weight") in bad_rows
    assert (5, "domains") in bad_rows
    assert (6, "designation") in bad_rows
    assert 2 not in {row for row, _ in bad_rows}
    assert "4 of 5 rows are invalid" in problem["detail"]
    nothing = await client.get("/v1/committees", params={"q": "ZJ/TC"}, headers=admin)
    assert nothing.json()["items"] == []


async def test_gb18030_csv_from_chinese_excel_is_read(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    rows = [
        ["kind", "name_zh", "credit_code", "region", "domains"],
        ["enterprise", "温州测试鞋业有限公司", "", "浙江省温州市", "鞋革:1"],
    ]
    response = await client.post(
        "/v1/organizations:import",
        content=csv_bytes(rows, "gb18030"),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    found = (await client.get("/v1/organizations", params={"q": "测试鞋业"}, headers=admin)).json()
    assert found["items"][0]["domains"] == [{"domain": "footwear_leather", "weight": 1.0}]


async def test_organization_reimport_keys_on_credit_code(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    exported = await client.get("/v1/organizations:export", params={"format": "csv"}, headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM for Chinese
    reimported = await client.post(
        "/v1/organizations:import",
        content=exported.content,
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert reimported.json() == {"created": 0, "updated": 0, "unchanged": 35}
    total = (await client.get("/v1/organizations", params={"limit": 500}, headers=admin)).json()
    assert len(total["items"]) == 35


async def test_xlsx_export_round_trips(client: httpx.AsyncClient, admin: Headers) -> None:
    exported = await client.get("/v1/committees:export", params={"format": "xlsx"}, headers=admin)
    assert exported.headers["content-type"] == XLSX
    assert 'filename="committees.xlsx"' in exported.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "designation"
    assert len(rows) == 23
    designations = {r[0] for r in rows[1:]}
    assert "IEC TC 111" in designations
    reimported = await client.post(
        "/v1/committees:import", content=exported.content, headers={**admin, "Content-Type": XLSX}
    )
    assert reimported.json() == {"created": 0, "updated": 0, "unchanged": 22}


async def test_unreadable_and_empty_files(client: httpx.AsyncClient, admin: Headers) -> None:
    broken = await client.post(
        "/v1/committees:import",
        content=b"PK\x03\x04broken",
        headers={**admin, "Content-Type": XLSX},
    )
    assert broken.status_code == 422 and broken.json()["code"] == "unreadable_file"
    empty = await client.post(
        "/v1/committees:import", content=b"", headers={**admin, "Content-Type": "text/csv"}
    )
    assert empty.status_code == 422 and empty.json()["code"] == "unreadable_file"
    header_only = await client.post(
        "/v1/committees:import",
        content=b"designation,level\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert header_only.status_code == 422 and header_only.json()["code"] == "invalid_rows"
    json_body = await client.post("/v1/committees:import", json=[], headers=admin)
    assert json_body.status_code == 415


async def test_import_limit_is_larger_but_bounded(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # 1.5 MiB, over the 1 MiB of JSON bodies, in lines a roster could have.
    large = b"designation,level\n" + (b"x" * 99 + b"\n") * 15_000
    accepted_size = await client.post(
        "/v1/committees:import", content=large, headers={**admin, "Content-Type": "text/csv"}
    )
    # Read, found invalid: not refused for its size.
    assert accepted_size.status_code == 422 and accepted_size.json()["code"] == "invalid_rows"
    huge = b"x" * ((20 << 20) + 1)
    refused = await client.post(
        "/v1/committees:import", content=huge, headers={**admin, "Content-Type": "text/csv"}
    )
    assert refused.status_code == 413


async def test_import_takes_a_multipart_form_with_a_file_field(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    rows = [HEADER, ["ZJ/TC 9", "provincial", "浙江省表单测试委员会", "Form test TC", "", "iot"]]
    as_form = await client.post(
        "/v1/committees:import",
        files={"file": ("committees.xlsx", xlsx(rows), XLSX)},
        headers=admin,
    )
    assert as_form.status_code == 200, as_form.text
    assert as_form.json() == {"created": 1, "updated": 0, "unchanged": 0}
    found = await client.get("/v1/committees", params={"q": "ZJ/TC 9"}, headers=admin)
    assert [c["name_en"] for c in found.json()["items"]] == ["Form test TC"]
    exported = await client.get("/v1/organizations:export", params={"format": "csv"}, headers=admin)
    csv_form = await client.post(
        "/v1/organizations:import",
        files={"file": ("organizations.csv", exported.content, "text/csv")},
        headers=admin,
    )
    assert csv_form.json() == {"created": 0, "updated": 0, "unchanged": 35}
    no_file = await client.post(
        "/v1/committees:import",
        data={"other": "x"},
        files={"upload": ("a.csv", b"x")},
        headers=admin,
    )
    assert no_file.status_code == 422, no_file.text
    assert no_file.json()["code"] == "unreadable_file"
    assert "`file`" in no_file.json()["detail"]
    # A form that is not multipart at all (the fuzzer's): refused as documented, not with a 400.
    boundary = "3162b0a20b55cbec5934f2cb153a02b9"
    malformed = await client.post(
        "/v1/committees:import",
        content=f"--{boundary}\r\n-7636--{boundary}--\r\n".encode(),
        headers={**admin, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert malformed.status_code == 422, malformed.text
    assert malformed.json()["code"] == "malformed_body"
