"""Rosters as organizers keep them: CSV (UTF-8 or the GB18030 of Chinese Excel) and XLSX."""

import asyncio
import codecs
import csv
import io
import multiprocessing
import time
import xml.parsers.expat
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import WorkSheetParser
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from service.errors import PayloadTooLarge, Unprocessable

# A text cell starting with one of these is a formula to Excel, WPS or LibreOffice (OWASP "CSV
# injection"); written with an apostrophe before it, it is shown as the text it is.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv"


# What a roster may be: far beyond any real one, and small enough that the worst file within
# these limits is parsed in seconds and a few hundred MB. The body itself is limited by
# IMPORT_MAX_BODY_BYTES (BodyLimits).
MAX_ROWS = 20_000
MAX_COLUMNS = 100
MAX_LINE_CHARS = 100_000
MAX_UNCOMPRESSED_BYTES = 48 << 20
MAX_ZIP_MEMBERS = 200
MAX_XML_DEPTH = 64
PARSE_SECONDS = 15.0
# At most this many files are parsed at once, each in a worker process.
PARSERS = 2
_parsers: ProcessPoolExecutor | None = None


class UnreadableFile(Unprocessable):
    code, title = "unreadable_file", "File could not be read"


class FileTooLarge(PayloadTooLarge):
    code, title = "file_too_large", "File is beyond the import's limits"


async def read_upload(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """`read_table` in a worker process, so that the event loop serves others meanwhile.

    A process, not a thread: openpyxl is pure Python, and a thread parsing holds the GIL that
    the event loop needs at every turn (a /healthz waited 1.7 s during a 5,000-row parse).
    """
    global _parsers
    if _parsers is None:
        # Started at the first import, kept for the next; concurrent.futures ends them at exit.
        _parsers = ProcessPoolExecutor(
            max_workers=PARSERS, mp_context=multiprocessing.get_context("spawn")
        )
    try:
        parsed = asyncio.get_running_loop().run_in_executor(_parsers, read_table, data)
        # read_table keeps its own time limit; this one is for a parse stuck in one call.
        return await asyncio.wait_for(parsed, PARSE_SECONDS + 5)
    except BrokenProcessPool:
        # A worker died (the system's memory killer, say): the next import starts new ones.
        _parsers = None
        raise FileTooLarge("The file could not be read within the memory a worker has.") from None
    except TimeoutError:
        raise FileTooLarge(
            f"The file took more than {PARSE_SECONDS:.0f} s to read; split it or simplify it."
        ) from None


def read_table(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV or XLSX file, each with its row number as a spreadsheet shows it.

    Within the limits above (413 `file_too_large` beyond them), whatever the file declares.
    """
    deadline = time.monotonic() + PARSE_SECONDS
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, deadline)
    return _read_csv(_decode(data), deadline)


# Big buffers are worked through in pieces this size, so that the time limit is checked and a
# thread running this (the command line's, a test's) lets others have their turns.
PIECE = 1 << 20


def _decode(data: bytes) -> str:
    _check_line_lengths(data)
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            pieces = [decoder.decode(data[at : at + PIECE]) for at in range(0, len(data), PIECE)]
            pieces.append(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            continue
        return "".join(pieces)
    raise UnreadableFile("The file is neither XLSX nor CSV in UTF-8 or GB18030.")


def _check_line_lengths(data: bytes) -> None:
    """Refuse a line longer than a roster's before decoding: one endless line must not become
    a string, then a list of millions of fields."""
    start = 0
    # Bytes, not characters: four bytes a character at most (GB18030 and UTF-8 alike).
    window = 4 * MAX_LINE_CHARS
    while start < len(data):
        end = data.find(b"\n", start, start + window + 1)
        if end < 0:
            if len(data) - start > window:
                raise FileTooLarge(
                    f"A line of the file is longer than {MAX_LINE_CHARS} characters; a "
                    "roster's lines are far shorter."
                )
            return
        start = end + 1


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


def _within_limits(
    rows: Iterable[tuple[int, Sequence[Any]]], deadline: float
) -> Iterator[tuple[int, Sequence[Any]]]:
    for number, row in rows:
        if number > MAX_ROWS + 1:
            raise FileTooLarge(f"The file has more than {MAX_ROWS} data rows; split it.")
        if len(row) > MAX_COLUMNS and any(v not in (None, "") for v in row[MAX_COLUMNS:]):
            raise FileTooLarge(
                f"Row {number} has more than {MAX_COLUMNS} columns; a roster needs far fewer."
            )
        if number % 256 == 0 and time.monotonic() > deadline:
            raise FileTooLarge(
                f"The file took more than {PARSE_SECONDS:.0f} s to read; split it or simplify it."
            )
        yield number, row[:MAX_COLUMNS]


def _rows_to_records(
    rows: Iterable[tuple[int, Sequence[Any]]], deadline: float
) -> list[tuple[int, dict[str, str]]]:
    iterator = _within_limits(rows, deadline)
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


def _lines(text: str) -> Iterator[str]:
    """The text's lines, one slice at a time (io.StringIO would copy it whole, holding the GIL)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        line = text[start:end]
        # Checked again in characters, before the csv module splits the line into fields.
        if len(line) > MAX_LINE_CHARS:
            raise FileTooLarge(
                f"A line of the file is longer than {MAX_LINE_CHARS} characters; a roster's "
                "lines are far shorter."
            )
        yield line
        start = end


def _more_lines_than(text: str, limit: int) -> bool:
    count, start = 0, 0
    while count <= limit:
        start = text.find("\n", start) + 1
        if not start:
            return False
        count += 1
    return True


def _read_csv(text: str, deadline: float) -> list[tuple[int, dict[str, str]]]:
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    # Only the delimiter is guessed: the sniffer takes the apostrophes `neutralize` writes for
    # quote characters, and every spreadsheet quotes with '"'.
    try:
        # Perhaps too many rows (a quoted field may hold line breaks): counted before any row
        # is read for real.
        if _more_lines_than(text, MAX_ROWS + 1) and (
            sum(1 for _ in csv.reader(_lines(text), delimiter=delimiter)) > MAX_ROWS + 1
        ):
            raise FileTooLarge(f"The file has more than {MAX_ROWS} data rows; split it.")
        reader = csv.reader(_lines(text), delimiter=delimiter)
        return _rows_to_records(((reader.line_num, row) for row in reader), deadline)
    except csv.Error as exc:
        raise UnreadableFile(f"The CSV file is malformed: {exc}.") from exc


def _check_archive(data: bytes, deadline: float) -> None:
    """Refuse a zip whose members would unpack beyond the limit, or whose XML is hostile (nested
    deeper than any spreadsheet, or declaring entities), before openpyxl reads any of it.

    zipfile never reads more of a member than its declared size, so the declared sizes bound
    what can be unpacked (a zip bomb, a huge shared string).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise FileTooLarge(f"The XLSX file has more than {MAX_ZIP_MEMBERS} parts.")
            unpacked = sum(m.file_size for m in members)
            if unpacked > MAX_UNCOMPRESSED_BYTES:
                raise FileTooLarge(
                    f"The XLSX file unpacks to {unpacked >> 20} MiB, more than the "
                    f"{MAX_UNCOMPRESSED_BYTES >> 20} MiB a roster may."
                )
            # Every part, whatever its name: the workbook's relations may point anywhere.
            for member in members:
                with archive.open(member) as stream:
                    _check_xml(stream, member.filename, deadline)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnreadableFile("The XLSX file could not be opened.") from exc


def _check_xml(stream: Any, name: str, deadline: float) -> None:
    """Read one XML part with expat (a few hundred nanoseconds an element): no DTD, no entity,
    no nesting deeper than MAX_XML_DEPTH."""
    parser = xml.parsers.expat.ParserCreate()
    depth = 0

    def start(tag: str, attributes: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise UnreadableFile(f"The XLSX part {name} nests elements deeper than a sheet does.")

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*_: Any) -> None:
        raise UnreadableFile(f"The XLSX part {name} declares a DTD, which no spreadsheet does.")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    chunk = stream.read(1 << 16)
    if not chunk.startswith((b"\xff\xfe", b"\xfe\xff")) and not chunk.removeprefix(
        b"\xef\xbb\xbf"
    ).lstrip().startswith(b"<"):
        return  # an image or other binary part: not XML, and openpyxl reads none as XML
    try:
        while chunk:
            parser.Parse(chunk, False)
            chunk = stream.read(1 << 16)
            if time.monotonic() > deadline:
                raise FileTooLarge(f"The file took more than {PARSE_SECONDS:.0f} s to read.")
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError as exc:
        raise UnreadableFile(f"The XLSX part {name} is not well-formed XML.") from exc


def _read_xlsx(data: bytes, deadline: float) -> list[tuple[int, dict[str, str]]]:
    _check_archive(data, deadline)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise UnreadableFile("The XLSX file could not be opened.") from exc
    except SyntaxError as exc:  # xml.etree's ParseError
        raise UnreadableFile("The XLSX file is not well-formed XML.") from exc
    try:
        return _rows_to_records(_sheet_rows(workbook), deadline)
    except SyntaxError as exc:
        raise UnreadableFile("The XLSX file is not well-formed XML.") from exc
    finally:
        workbook.close()


def _sheet_rows(workbook: Any) -> Iterator[tuple[int, list[Any]]]:
    """The first sheet's rows as its XML holds them, each as long as its last value.

    The sheet's own iter_rows trusts the file: it pads every row to the declared <dimension>
    (A1:XFD1048576 is 16,384 cells a row) and makes up every missing row before one numbered
    1,048,576. openpyxl's parser underneath, read here directly, yields only what is there.
    """
    sheet = workbook.worksheets[0]
    with workbook._archive.open(sheet._worksheet_path) as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, cells in parser.parse():
            present = [c for c in cells if c["value"] is not None]
            values: list[Any] = [None] * max((c["column"] for c in present), default=0)
            if len(values) > MAX_COLUMNS:
                raise FileTooLarge(
                    f"Row {number} has more than {MAX_COLUMNS} columns; a roster needs far fewer."
                )
            for cell in present:
                values[cell["column"] - 1] = _cell_text(cell["value"])
            yield number, values


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
