"""Hostile spreadsheets, made here rather than kept as files: each with the status it must get."""

import io
import zipfile
from dataclasses import dataclass

from openpyxl import Workbook

from service.spreadsheets import MAX_COLUMNS, MAX_ROWS, MAX_UNCOMPRESSED_BYTES, MAX_ZIP_MEMBERS

SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["designation", "name_zh", "name_en"]


@dataclass(frozen=True)
class Hostile:
    name: str
    content: bytes
    status: int
    code: str


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _with_members(data: bytes, members: dict[str, bytes]) -> bytes:
    """The XLSX with some members replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, members.pop(info.filename, source.read(info)))
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _sheet_xml(data: bytes) -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read(SHEET).decode()


def zip_bomb() -> Hostile:
    """A sheet that unpacks to more than the limit (spaces compress a thousandfold)."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    xml = _sheet_xml(data).replace(
        "<sheetData>", "<sheetData>" + " " * (MAX_UNCOMPRESSED_BYTES + 1)
    )
    return Hostile("zip bomb", _with_members(data, {SHEET: xml.encode()}), 413, "file_too_large")


def huge_shared_string() -> Hostile:
    """One shared string bigger than the limit, as the review's 200 KB file with 200 MB."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    strings = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        f'uniqueCount="1"><si><t>{"x" * (MAX_UNCOMPRESSED_BYTES + 1)}</t></si></sst>'
    )
    content = _with_members(data, {"xl/sharedStrings.xml": strings.encode()})
    return Hostile("huge shared string", content, 413, "file_too_large")


def huge_dimension() -> Hostile:
    """The review's file: a sheet declaring A1:XFD10000, with a row at 10,000. Trusting the
    declaration, a reader pads each of 10,000 rows to 16,384 cells (11 s in the review)."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    last = '</row><row r="10000"><c r="A10000" t="inlineStr"><is><t>x</t></is></c></row>'
    xml = (
        _sheet_xml(data)
        .replace('<dimension ref="A1:C2" />', '<dimension ref="A1:XFD10000" />')
        .replace("</row></sheetData>", last + "</sheetData>")
    )
    assert "XFD10000" in xml and 'r="10000"' in xml
    # Three rows are there, none a valid committee: refused for that, at once.
    content = _with_members(data, {SHEET: xml.encode()})
    return Hostile("huge dimension", content, 422, "invalid_rows")


def far_cell() -> Hostile:
    """A cell in the sheet's last column: more columns than any roster has."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    cell = '<c r="XFD2" t="inlineStr"><is><t>far</t></is></c></row></sheetData>'
    xml = _sheet_xml(data).replace("</row></sheetData>", cell)
    return Hostile(
        "cell in column XFD", _with_members(data, {SHEET: xml.encode()}), 413, "file_too_large"
    )


def far_row() -> Hostile:
    """A row numbered 1,048,576 after the header: a million empty rows in between."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    row = (
        '</row><row r="1048576"><c r="A1048576" t="inlineStr"><is><t>far</t></is></c></row>'
        "</sheetData>"
    )
    xml = _sheet_xml(data).replace("</row></sheetData>", row)
    return Hostile("row 1048576", _with_members(data, {SHEET: xml.encode()}), 413, "file_too_large")


def deep_xml() -> Hostile:
    """A hundred thousand nested elements inside the sheet."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    depth = 100_000
    xml = _sheet_xml(data).replace("<sheetData>", "<sheetData>" + "<x>" * depth + "</x>" * depth)
    return Hostile("deep XML", _with_members(data, {SHEET: xml.encode()}), 422, "unreadable_file")


def entity_expansion() -> Hostile:
    """The "billion laughs": entities that expand to gigabytes."""
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    entities = '<!ENTITY a0 "ha">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    xml = _sheet_xml(data)
    xml = f"<!DOCTYPE worksheet [{entities}]>" + xml.replace(">one<", ">&a9;<")
    return Hostile(
        "entity expansion", _with_members(data, {SHEET: xml.encode()}), 422, "unreadable_file"
    )


def many_members() -> Hostile:
    data = _xlsx([HEADER, ["ISO/TC 1", "一", "one"]])
    extra = {f"xl/media/{i}.bin": b"" for i in range(MAX_ZIP_MEMBERS + 1)}
    return Hostile("many zip members", _with_members(data, extra), 413, "file_too_large")


def endless_csv_line() -> Hostile:
    """19 MiB and not one line break: the review's file held the server for 15 s."""
    return Hostile("one endless CSV line", b"a," * (19 << 19), 413, "file_too_large")


def wide_csv() -> Hostile:
    return Hostile(
        "a CSV row of many columns", b"a," * (MAX_COLUMNS * 10) + b"\n", 413, "file_too_large"
    )


def long_csv() -> Hostile:
    content = b"designation,name_zh\n" + b"ISO/TC 1,x\n" * (MAX_ROWS + 1)
    return Hostile("too many CSV rows", content, 413, "file_too_large")


def invalid_encoding() -> Hostile:
    """Neither UTF-8 nor GB18030 (0xFF is in neither)."""
    return Hostile(
        "invalid encoding", b"designation,name_zh\n\xff\xfe\x80,\xff\n", 422, "unreadable_file"
    )


def corpus() -> list[Hostile]:
    """Every hostile file, made afresh."""
    return [
        zip_bomb(),
        huge_shared_string(),
        huge_dimension(),
        far_cell(),
        far_row(),
        deep_xml(),
        entity_expansion(),
        many_members(),
        endless_csv_line(),
        wide_csv(),
        long_csv(),
        invalid_encoding(),
    ]
