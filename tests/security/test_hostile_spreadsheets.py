"""Spreadsheets built to stop the service are refused at once, while it goes on serving others."""

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from service.errors import ServiceError
from service.spreadsheets import XLSX_MEDIA_TYPE, read_table
from tests.security import hostile_files
from tests.security.hostile_files import Hostile
from tests.support import Headers

BUILDERS: list[Callable[[], Hostile]] = [
    hostile_files.zip_bomb,
    hostile_files.huge_shared_string,
    hostile_files.huge_dimension,
    hostile_files.far_cell,
    hostile_files.far_row,
    hostile_files.deep_xml,
    hostile_files.entity_expansion,
    hostile_files.many_members,
    hostile_files.endless_csv_line,
    hostile_files.wide_csv,
    hostile_files.long_csv,
    hostile_files.invalid_encoding,
]


@dataclass
class Measured:
    response: httpx.Response
    wall_s: float
    # The event loop's own CPU time between one /healthz answered and the next: what the loop
    # was busy with besides answering. Work done on the loop (a parse) shows as one long gap,
    # however loaded the machine is; wall-clock latency there would measure the machine.
    loop_gaps_s: list[float]


async def _while_pinging(
    client: httpx.AsyncClient, admin: Headers, work: Awaitable[httpx.Response]
) -> Measured:
    """The work's answer, and how busy the event loop was between /healthz answers meanwhile."""
    gaps: list[float] = []
    done = asyncio.Event()

    # The first request builds the app's middleware stack, and the first import starts the
    # worker processes that parse: not what is measured here.
    assert (await client.get("/healthz")).status_code == 200
    await client.post(
        "/v1/committees:import",
        content=b"designation\n",
        headers={"Content-Type": "text/csv", **admin},
    )

    async def ping() -> None:
        last = time.thread_time()
        while not done.is_set():
            await asyncio.sleep(0.005)
            assert (await client.get("/healthz")).status_code == 200
            now = time.thread_time()
            gaps.append(now - last)
            last = now

    pinger = asyncio.create_task(ping())
    started = time.perf_counter()
    try:
        response = await work
    finally:
        wall = time.perf_counter() - started
        done.set()
    await pinger
    return Measured(response, wall, gaps)


def _media_type(content: bytes) -> str:
    return XLSX_MEDIA_TYPE if content.startswith(b"PK") else "text/csv"


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
async def test_a_hostile_file_is_refused_within_a_second_while_healthz_stays_fast(
    client: httpx.AsyncClient, admin: Headers, build: Callable[[], Hostile]
) -> None:
    hostile = build()
    measured = await _while_pinging(
        client,
        admin,
        client.post(
            "/v1/committees:import",
            content=hostile.content,
            headers={**admin, "Content-Type": _media_type(hostile.content)},
        ),
    )
    response = measured.response
    assert response.status_code == hostile.status, response.text[:500]
    assert response.json()["code"] == hostile.code
    assert len(response.content) < 64_000
    # What refusing it costs, in CPU time (wall-clock time measures the machine's load).
    started = time.process_time()
    with pytest.raises(ServiceError):
        await _read_and_check(hostile.content)
    cost = time.process_time() - started
    assert cost < 1.0, f"{hostile.name}: {cost:.2f} s of CPU"
    assert measured.wall_s < 10, f"{hostile.name}: {measured.wall_s:.1f} s"
    busiest = max(measured.loop_gaps_s, default=0.0)
    assert busiest < 0.05, f"{hostile.name}: the event loop was busy {busiest:.3f} s at once"


async def _read_and_check(content: bytes) -> None:
    """Read as the import does, then validate as a committee import would."""
    rows = read_table(content)
    if not rows or any(len(row) < 2 for _, row in rows):
        raise ServiceError("as the import would: no rows, or rows missing what a committee needs")


async def test_a_large_file_is_parsed_off_the_event_loop(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # Valid as a spreadsheet, and every row blank once stripped: all the time goes to reading
    # it (the import's validation, which runs on the event loop, has nothing to check).
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([f"column {i}" for i in range(10)])
    for _ in range(5_000):
        sheet.append([" " * (i + 1) for i in range(10)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    measured = await _while_pinging(
        client,
        admin,
        client.post(
            "/v1/committees:import",
            content=buffer.getvalue(),
            headers={**admin, "Content-Type": XLSX_MEDIA_TYPE},
        ),
    )
    assert measured.response.status_code == 422, measured.response.text[:500]
    assert "no data rows" in measured.response.json()["detail"]
    gaps = measured.loop_gaps_s
    assert len(gaps) >= 5, f"the parse ({measured.wall_s:.2f} s) let {len(gaps)} /healthz by"
    # Parsed on the event loop, one gap would hold the whole parse.
    assert max(gaps) < 0.05, f"the event loop was busy {max(gaps):.3f} s at once"


async def test_a_file_of_many_bad_rows_answers_the_first_100_errors_and_the_total(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    content = b"designation,name_zh\n" + b"".join(b"X/%d,\n" % i for i in range(500))
    response = await client.post(
        "/v1/committees:import", content=content, headers={**admin, "Content-Type": "text/csv"}
    )
    assert response.status_code == 422, response.text[:500]
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "invalid_rows"
    assert len(problem["errors"]) == 100
    assert problem["errors_total"] >= 500
    assert problem["errors"][0]["row"] == 2


async def test_a_parser_that_dies_is_a_problem_and_the_next_import_works(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    from service import spreadsheets

    csv = {**admin, "Content-Type": "text/csv"}
    await client.post("/v1/committees:import", content=b"designation\n", headers=csv)
    pool = spreadsheets._parsers
    assert pool is not None
    for process in list(pool._processes.values()):  # as the system's memory killer would
        process.kill()
        process.join()
    died = await client.post("/v1/committees:import", content=b"designation\n", headers=csv)
    assert died.status_code == 413, died.text
    assert died.json()["code"] == "file_too_large"
    again = await client.post("/v1/committees:import", content=b"designation\n", headers=csv)
    assert again.status_code == 422 and again.json()["code"] == "invalid_rows", again.text
