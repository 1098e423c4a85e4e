"""Rosters as organizers keep them: CSV (UTF-8 or the GB18030 of Chinese Excel) and XLSX."""

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException
from starlette.responses import Response

from service.errors import Unprocessable

# A text cell starting with one of these is a formula to Excel, WPS or LibreOffice (OWASP "CSV
# injection"); written with an apostrophe before it, it is shown as the text it is.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv"


class UnreadableFile(Unprocessable):
    code, title = "unreadable_file", "File could not be read"


def read_table(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV or XLSX file, each with its row number as a spreadsheet shows it."""
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    return _read_csv(_decode(data))


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("The file is neither XLSX nor CSV in UTF-8 or GB18030.")


def neutralize(value: Any) -> Any:
    """A cell as written: text a spreadsheet would run as a formula gets an apostrophe first.

    Text already starting with an apostrophe gets one more, so that `restore` undoes exactly
    what this did and a round trip through export and import changes nothing.
    """
    if isinstance(value, str) and value.startswith((*FORMULA_TRIGGERS, ESCAPE)):
        return ESCAPE + value
    return value


def restore(value: str) -> str:
    """A cell as read: the apostrophe `neutralize` put before a formula's first character goes."""
    # XML reads a carriage return as a line feed: in XLSX an escaped "\r" comes back as "\n".
    if value.startswith(ESCAPE) and value[1:].startswith((*FORMULA_TRIGGERS, ESCAPE, "\n")):
        return value[1:]
    return value


def _rows_to_records(rows: Iterable[tuple[int, Sequence[Any]]]) -> list[tuple[int, dict[str, str]]]:
    iterator = iter(rows)
    try:
        _, header = next(iterator)
    except StopIteration:
        raise UnreadableFile("The file is empty: the first row must name the columns.") from None
    names = [restore(str(h)).strip().lower() if h is not None else "" for h in header]
    records = []
    for number, row in iterator:
        values = ["" if v is None else restore(str(v)).strip() for v in row]
        if not any(values):
            continue
        records.append((number, {n: v for n, v in zip(names, values, strict=False) if n}))
    return records


def _read_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    # Only the delimiter is guessed: the sniffer takes the apostrophes `neutralize` writes for
    # quote characters, and every spreadsheet quotes with '"'.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return _rows_to_records((reader.line_num, row) for row in reader)
    except csv.Error as exc:
        raise UnreadableFile(f"The CSV file is malformed: {exc}.") from exc


def _read_xlsx(data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise UnreadableFile("The XLSX file could not be opened.") from exc
    sheet = workbook.worksheets[0]
    rows = (
        (number, [_cell_text(v) for v in row])
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
    )
    records = _rows_to_records(rows)
    workbook.close()
    return records


def _cell_text(value: Any) -> Any:
    # Excel turns whole numbers into floats; "3.0" would fail an integer field.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV with a byte-order mark, so Excel opens Chinese text correctly; no cell a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralize(c) for c in columns])
    writer.writerows(["" if v is None else neutralize(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    """One sheet, the header row first; text is written as text, never as a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])

    def cells(values: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if isinstance(value, str):
                # openpyxl would store a str starting with "=" as a formula (<f>).
                cell = WriteOnlyCell(sheet, value=neutralize(value))
                cell.data_type = "s"
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(cells(columns))
    for row in rows:
        sheet.append(cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_response(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, name: str, file_format: str
) -> Response:
    """A download of rows as `name.csv` or `name.xlsx`."""
    if file_format == "xlsx":
        content, media_type = write_xlsx(columns, rows, title=name), XLSX_MEDIA_TYPE
    else:
        content, media_type = write_csv(columns, rows), f"{CSV_MEDIA_TYPE}; charset=utf-8"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{file_format}"'},
    )


# The request body of every `:import`: the file itself, as the contract shows it.
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file itself: CSV (UTF-8 or GB18030) or XLSX, first row naming "
        "the columns.",
        "content": {
            CSV_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
