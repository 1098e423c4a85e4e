"""Rosters as organizers keep them: CSV (UTF-8 or the GB18030 of Chinese Excel) and XLSX."""

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from service.errors import Unprocessable

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


def _rows_to_records(rows: Iterable[tuple[int, Sequence[Any]]]) -> list[tuple[int, dict[str, str]]]:
    iterator = iter(rows)
    try:
        _, header = next(iterator)
    except StopIteration:
        raise UnreadableFile("The file is empty: the first row must name the columns.") from None
    names = [str(h).strip().lower() if h is not None else "" for h in header]
    records = []
    for number, row in iterator:
        values = ["" if v is None else str(v).strip() for v in row]
        if not any(values):
            continue
        records.append((number, {n: v for n, v in zip(names, values, strict=False) if n}))
    return records


def _read_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    dialect: type[csv.Dialect] | csv.Dialect
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel()
    reader = csv.reader(io.StringIO(text), dialect)
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
    """CSV with a byte-order mark, so Excel opens Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    """One sheet, the header row first."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append(list(row))
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


MULTIPART_MEDIA_TYPE = "multipart/form-data"

# The request body of every `:import`: the file itself, as the contract shows it. The raw body
# may be labelled text/csv or the XLSX type too (the bytes say which it is); the contract lists
# the two forms every client generator and browser can send, so none of them skips an import.
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file: CSV (UTF-8 or GB18030) or XLSX, first row naming the columns. "
        f"Either the raw body (as application/octet-stream, {CSV_MEDIA_TYPE} or "
        f"{XLSX_MEDIA_TYPE}) or a {MULTIPART_MEDIA_TYPE} form with the file in the field `file`.",
        "content": {
            MULTIPART_MEDIA_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV or XLSX file.",
                        }
                    },
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def uploaded_file(request: Request) -> bytes:
    """The file an `:import` was sent: the raw body, or the `file` field of a multipart form."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MULTIPART_MEDIA_TYPE:
        return await request.body()
    form = await request.form(max_files=1, max_fields=1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UnreadableFile("The form has no file in a field named `file`.")
        return await upload.read()
    finally:
        await form.close()
