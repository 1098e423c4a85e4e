"""Event reports and the summary across events."""

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict

from service.meetings.schemas import PartyName


class KindCounts(BaseModel):
    committee: int = 0
    enterprise: int = 0
    association: int = 0
    institute: int = 0
    total: int = 0


class SlotCount(BaseModel):
    slot: int
    start: str
    meetings: int


class MeetingFigures(BaseModel):
    scheduled: int
    held: int
    no_show: int
    cancelled: int
    by_slot: list[SlotCount]


class DomainCount(BaseModel):
    code: str
    name_en: str
    name_zh: str
    count: int


class AgreementFigures(BaseModel):
    total: int
    by_state: dict[str, int]
    by_domain: list[DomainCount]


class MissedPair(BaseModel):
    committee: PartyName
    organization: PartyName
    score: float


class EventSummary(BaseModel):
    id: uuid.UUID
    name_zh: str
    name_en: str | None
    date: date
    venue: str


class EventReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event": {
                        "id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                        "name_zh": "浙江省标准稳链提升暨标技委建设工作推进会 · 技术委员会对接活动",
                        "name_en": "Technical committee matchmaking",
                        "date": "2025-09-23",
                        "venue": "温州国际会展中心",
                    },
                    "participants": {
                        "committee": 22,
                        "enterprise": 22,
                        "association": 7,
                        "institute": 6,
                        "total": 57,
                    },
                    "checked_in": {
                        "committee": 22,
                        "enterprise": 21,
                        "association": 7,
                        "institute": 6,
                        "total": 56,
                    },
                    "meetings": {
                        "scheduled": 132,
                        "held": 120,
                        "no_show": 3,
                        "cancelled": 2,
                        "by_slot": [{"slot": 1, "start": "09:00", "meetings": 17}],
                    },
                    "intents": {
                        "total": 14,
                        "by_state": {"proposed": 6, "confirmed": 5, "in_progress": 3},
                        "by_domain": [
                            {
                                "code": "iot",
                                "name_en": "Internet of Things",
                                "name_zh": "物联网",
                                "count": 3,
                            }
                        ],
                    },
                    "memoranda": {
                        "total": 4,
                        "by_state": {"signed": 4},
                        "by_domain": [
                            {
                                "code": "pet_products",
                                "name_en": "Pet products",
                                "name_zh": "宠物用品",
                                "count": 1,
                            }
                        ],
                    },
                    "best_matches_not_met": [],
                }
            ]
        }
    )

    event: EventSummary
    participants: KindCounts
    checked_in: KindCounts
    meetings: MeetingFigures
    intents: AgreementFigures
    memoranda: AgreementFigures
    best_matches_not_met: list[MissedPair]


class SummaryReport(BaseModel):
    date_from: date | None
    date_to: date | None
    events: list[EventSummary]
    participants: KindCounts
    checked_in: KindCounts
    meetings: MeetingFigures
    intents: AgreementFigures
    memoranda: AgreementFigures
