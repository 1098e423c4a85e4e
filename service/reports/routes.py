"""Reports over HTTP: JSON, CSV, XLSX, or a printable bilingual page for Accept: text/html."""

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from service.auth.dependencies import AdminKey
from service.db import SessionDep
from service.directory.taxonomy import TaxonomyDep
from service.errors import NotFound, Unprocessable, problem_responses
from service.events import service as events
from service.reports import service
from service.reports.schemas import EventReport, SummaryReport
from service.spreadsheets import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    file_response,
)

router = APIRouter(prefix="/v1", tags=["reports"])
templates = Environment(loader=PackageLoader("service.reports"), autoescape=select_autoescape())

Format = Annotated[
    Literal["json", "csv", "xlsx"] | None,
    Query(description="json (default), csv or xlsx; Accept: text/html gives a printable page."),
]
STATE_NAMES = {
    "proposed": "已提出",
    "confirmed": "已确认",
    "in_progress": "推进中",
    "fulfilled": "已完成",
    "withdrawn": "已撤回",
    "signed": "已签署",
    "active": "生效中",
    "expired": "已到期",
    "terminated": "已终止",
}
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report.",
        "content": {"text/html": {}, CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
    }
}


def _render(
    request: Request,
    report: dict[str, Any],
    model: type[EventReport] | type[SummaryReport],
    file_format: str | None,
    *,
    name: str,
    title_zh: str,
    title_en: str,
) -> Any:
    if file_format in ("csv", "xlsx"):
        columns, rows = ["section", "item", "value"], service.report_rows(report)
        return file_response(columns, rows, name=name, file_format=file_format)
    if file_format is None and "text/html" in request.headers.get("accept", ""):
        labelled = {
            **report,
            "meetings": {
                **report["meetings"],
                "by_slot_labelled": [
                    {"label": f"{s['slot']} {s['start']}".strip(), "meetings": s["meetings"]}
                    for s in report["meetings"]["by_slot"]
                ],
            },
            **{
                section: {
                    **report[section],
                    "by_domain_labelled": [
                        {"label": d["name_zh"], "count": d["count"]}
                        for d in report[section]["by_domain"]
                    ],
                }
                for section in ("intents", "memoranda")
            },
        }
        html = templates.get_template("report.html").render(
            report=labelled, state_names=STATE_NAMES, title_zh=title_zh, title_en=title_en
        )
        return HTMLResponse(html)
    return model.model_validate(report)


@router.get(
    "/events/{event_id}/report",
    operation_id="getEventReport",
    summary="What the event achieved: participants, check-ins, meetings, intents, memoranda",
    response_model=EventReport,
    responses={**REPORT_RESPONSES, **problem_responses(NotFound)},
)
async def event_report(
    event_id: uuid.UUID,
    _: AdminKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    request: Request,
    format: Format = None,  # noqa: A002
) -> Any:
    event = await events.get_event(session, event_id=event_id)
    report = await service.event_report(
        session, event=event, settings=request.app.state.settings, forest=taxonomy
    )
    return _render(
        request,
        report,
        EventReport,
        format,
        name="event-report",
        title_zh="活动报告",
        title_en="Event report",
    )


@router.get(
    "/reports/summary",
    operation_id="getSummaryReport",
    summary="The same figures across every event in a date range",
    response_model=SummaryReport,
    responses={**REPORT_RESPONSES, **problem_responses()},
)
async def summary_report(
    _: AdminKey,
    session: SessionDep,
    taxonomy: TaxonomyDep,
    request: Request,
    date_from: Annotated[
        date | None, Query(alias="from", description="First event date included.")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="Last event date included.")
    ] = None,
    format: Format = None,  # noqa: A002
) -> Any:
    if date_from and date_to and date_from > date_to:
        raise Unprocessable(
            "`from` must not be after `to`.", errors=[{"field": "from", "message": "after to"}]
        )
    report = await service.summary(session, date_from=date_from, date_to=date_to, forest=taxonomy)
    return _render(
        request,
        report,
        SummaryReport,
        format,
        name="summary-report",
        title_zh="汇总报告",
        title_en="Summary report",
    )
