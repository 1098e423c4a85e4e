"""Events and their participants in and out."""

import itertools
import uuid
import zoneinfo
from datetime import date as CalendarDate
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from service.models.events import DEFAULT_MIN_MEETING_SCORE
from service.schemas import Absent, Name, PatchModel, StrictModel

EventState = Literal["draft", "open", "closed"]
SlotNumber = Annotated[int, Field(ge=1, le=64)]
MeetingCount = Annotated[int, Field(ge=0, le=64)]

SLOT_EXAMPLE = [
    {"start": "2025-09-23T09:00:00+08:00", "end": "2025-09-23T09:20:00+08:00"},
    {"start": "2025-09-23T09:25:00+08:00", "end": "2025-09-23T09:45:00+08:00"},
]
EVENT_EXAMPLE: dict[str, Any] = {
    "name_zh": "浙江省标准稳链提升暨标技委建设工作推进会 · 技术委员会对接活动",
    "name_en": "Zhejiang standards chain-stabilization meeting: technical committee matchmaking",
    "venue": "温州国际会展中心",
    "date": "2025-09-23",
    "timezone": "Asia/Shanghai",
    "slots": SLOT_EXAMPLE,
    "tables": 22,
    "min_meeting_score": 30.0,
}


class Slot(StrictModel):
    start: AwareDatetime
    end: AwareDatetime


def _check_slots(slots: list[Slot] | None) -> list[Slot] | None:
    if not slots:
        return slots
    length = slots[0].end - slots[0].start
    if length.total_seconds() <= 0:
        raise ValueError("a slot must end after it starts")
    for previous, slot in itertools.pairwise(slots):
        if slot.end - slot.start != length:
            raise ValueError("all slots must be of equal length")
        if slot.start < previous.end:
            raise ValueError("slots must be in time order and must not overlap")
    return slots


def _check_timezone(value: str | None) -> str | None:
    if value is not None:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as Asia/Shanghai") from None
    return value


# Points from 0 to 100; see docs/matching.md, "Meeting weights for the schedule".
MinMeetingScore = Annotated[
    float,
    Field(
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="Pairs scoring under this meet only when one side asked the other or marked "
        "it must-meet; the scheduler adds no such meeting on its own, and the report does not "
        "count them among the best pairs that did not meet. Default 30.",
    ),
]


class EventIn(StrictModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EVENT_EXAMPLE]})

    name_zh: Name
    name_en: Name | None = None
    venue: Name
    date: CalendarDate
    timezone: str = "Asia/Shanghai"
    slots: Annotated[list[Slot], Field(min_length=1, max_length=64)]
    tables: Annotated[int, Field(ge=1, le=1000)]
    state: EventState = "draft"
    min_meeting_score: MinMeetingScore = DEFAULT_MIN_MEETING_SCORE

    _slots = field_validator("slots")(_check_slots)
    _timezone = field_validator("timezone")(_check_timezone)


class EventPatch(PatchModel):
    name_zh: Name | Absent = None
    name_en: Name | None = None
    venue: Name | Absent = None
    date: CalendarDate | Absent = None
    timezone: str | Absent = None
    slots: Annotated[list[Slot], Field(min_length=1, max_length=64)] | Absent = None
    tables: Annotated[int, Field(ge=1, le=1000)] | Absent = None
    state: EventState | Absent = None
    min_meeting_score: MinMeetingScore | Absent = None

    _slots = field_validator("slots")(_check_slots)
    _timezone = field_validator("timezone")(_check_timezone)


class EventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                    **EVENT_EXAMPLE,
                    "state": "open",
                    "version": 3,
                    "created_at": "2025-09-01T02:00:00Z",
                    "updated_at": "2025-09-23T00:30:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    name_zh: str
    name_en: str | None
    venue: str
    date: CalendarDate
    timezone: str
    slots: list[Slot]
    tables: int
    state: EventState
    min_meeting_score: MinMeetingScore
    version: int
    created_at: datetime
    updated_at: datetime
