"""Meeting requests, preferences, meetings and agendas in and out."""

import uuid
from datetime import date as datetime_date
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from service.schemas import Absent, LongText, PatchModel, StrictModel

RequestState = Literal["pending", "accepted", "declined", "withdrawn"]
PreferenceKind = Literal["must_meet", "would_like", "do_not_meet"]
MeetingStatus = Literal["scheduled", "held", "no_show", "cancelled"]

EVENT_ID = "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10"
COMMITTEE_PARTICIPANT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
ORGANIZATION_PARTICIPANT = "2b3c4d5e-6f70-4182-9394-a5b6c7d8e9f0"


class MeetingRequestIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_participant_id": ORGANIZATION_PARTICIPANT,
                    "to_participant_id": COMMITTEE_PARTICIPANT,
                    "message": "希望就物联网设备互操作国际标准提案与委员会专家面对面交流。",
                }
            ]
        },
    )

    from_participant_id: uuid.UUID
    to_participant_id: uuid.UUID
    message: LongText = ""


class MeetingRequestAction(StrictModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"action": "accept"}]}
    )

    action: Literal["accept", "decline", "withdraw"] = Field(
        description="accept or decline: the recipient; withdraw: the sender."
    )


class MeetingRequestOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0d1c2b3a-4958-4677-8695-a4b3c2d1e0f9",
                    "event_id": EVENT_ID,
                    "from_participant_id": ORGANIZATION_PARTICIPANT,
                    "to_participant_id": COMMITTEE_PARTICIPANT,
                    "message": "希望就物联网设备互操作国际标准提案与委员会专家面对面交流。",
                    "state": "accepted",
                    "version": 2,
                    "created_at": "2025-09-20T02:00:00Z",
                    "updated_at": "2025-09-21T03:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID
    from_participant_id: uuid.UUID
    to_participant_id: uuid.UUID
    message: str
    state: RequestState
    version: int
    created_at: datetime
    updated_at: datetime


class PreferenceIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "participant_id": ORGANIZATION_PARTICIPANT,
                    "counterpart_id": COMMITTEE_PARTICIPANT,
                    "kind": "must_meet",
                }
            ]
        },
    )

    participant_id: uuid.UUID = Field(description="Whose preference it is.")
    counterpart_id: uuid.UUID
    kind: PreferenceKind


class PreferenceOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    participant_id: uuid.UUID
    counterpart_id: uuid.UUID
    kind: PreferenceKind
    version: int = Field(
        description="Bumped by every change; its ETag is what DELETE's If-Match takes."
    )
    created_at: datetime
    updated_at: datetime


class PartyName(BaseModel):
    participant_id: uuid.UUID
    name_zh: str
    name_en: str | None
    # A committee is known by its designation (ISO/IEC JTC 1/SC 41) more than by its name.
    designation: str | None = None


class MeetingIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "committee_participant_id": COMMITTEE_PARTICIPANT,
                    "organization_participant_id": ORGANIZATION_PARTICIPANT,
                    "slot": 3,
                    "table": 1,
                    "locked": True,
                }
            ]
        },
    )

    committee_participant_id: uuid.UUID
    organization_participant_id: uuid.UUID
    slot: Annotated[int, Field(ge=1, le=64)]
    table: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="Defaults to the committee's own table."
    )
    locked: bool = False
    notes: LongText = ""


class MeetingPatch(PatchModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "held", "notes": "双方同意起草合作意向。"}]},
    )

    slot: Annotated[int, Field(ge=1, le=64)] | Absent = None
    table: Annotated[int, Field(ge=1, le=1000)] | Absent = None
    status: MeetingStatus | Absent = None
    locked: bool | Absent = None
    notes: LongText | Absent = None


class MeetingOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6e5d4c3b-2a19-4807-b6f5-e4d3c2b1a098",
                    "event_id": EVENT_ID,
                    "schedule_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "committee": {
                        "participant_id": COMMITTEE_PARTICIPANT,
                        "name_zh": "物联网",
                        "name_en": "Internet of Things and digital twin",
                    },
                    "organization": {
                        "participant_id": ORGANIZATION_PARTICIPANT,
                        "name_zh": "杭州滨江感知物联技术有限公司",
                        "name_en": "Hangzhou Binjiang Sensing IoT Technology Co., Ltd.",
                    },
                    "slot": 3,
                    "start": "2025-09-23T09:50:00+08:00",
                    "end": "2025-09-23T10:10:00+08:00",
                    "table": 1,
                    "status": "scheduled",
                    "locked": False,
                    "notes": "",
                    "weight": 7250,
                    "version": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID
    schedule_id: uuid.UUID
    committee: PartyName
    organization: PartyName
    slot: int
    start: datetime
    end: datetime
    table: int
    status: MeetingStatus
    locked: bool
    notes: str
    weight: int
    version: int


class MeetingChangeOut(BaseModel):
    from_status: MeetingStatus | None
    to_status: MeetingStatus
    slot: int
    table: int
    note: str
    actor_key_id: uuid.UUID | None
    actor_name: str | None
    at: datetime


class SharedDomain(BaseModel):
    code: str
    name_en: str
    name_zh: str


# One meeting of an agenda, as the examples of an agenda and of the door's agendas show it.
AGENDA_MEETING_EXAMPLE: JsonDict = {
    "slot": 1,
    "start": "2025-09-23T09:00:00+08:00",
    "end": "2025-09-23T09:20:00+08:00",
    "table": 1,
    "status": "scheduled",
    "counterpart": {
        "participant_id": ORGANIZATION_PARTICIPANT,
        "name_zh": "杭州滨江感知物联技术有限公司",
        "name_en": "Hangzhou Binjiang Sensing IoT Technology Co., Ltd.",
        "designation": None,
    },
    "shared_domains": [{"code": "iot", "name_en": "Internet of Things", "name_zh": "物联网"}],
}


class AgendaEntry(BaseModel):
    slot: int
    start: datetime
    end: datetime
    table: int
    status: MeetingStatus
    counterpart: PartyName
    shared_domains: list[SharedDomain]


class ParticipantAgenda(BaseModel):
    """One participant's published meetings, as the door's roster copy keeps them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "participant_id": COMMITTEE_PARTICIPANT,
                    "schedule_id": "0e5c1f2a-7b7d-4c1e-9d3a-2f1b6c8e4a10",
                    "meetings": [AGENDA_MEETING_EXAMPLE],
                }
            ]
        }
    )

    participant_id: uuid.UUID
    schedule_id: uuid.UUID | None = Field(
        description="The published schedule these meetings are from; null (and no meetings) "
        "until one is published. Pages read while another schedule was being published differ "
        "here: read the list again."
    )
    meetings: list[AgendaEntry] = Field(description="As the participant's agenda lists them.")


class AgendaPerson(BaseModel):
    name: str
    title: str | None
    checked_in_at: datetime | None = Field(description="Null while this person is not present.")


class Agenda(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "participant": {
                        "participant_id": COMMITTEE_PARTICIPANT,
                        "name_zh": "物联网",
                        "name_en": "Internet of Things and digital twin",
                        "designation": "ISO/IEC JTC 1/SC 41",
                    },
                    "event_name_zh": "浙江省标准稳链提升暨标技委建设工作推进会",
                    "event_name_en": "Zhejiang standards chain-stabilization meeting",
                    "venue": "温州国际会展中心",
                    "date": "2025-09-23",
                    "published": True,
                    "people": [
                        {
                            "name": "刘宇宁",
                            "title": "秘书长",
                            "checked_in_at": "2025-09-23T00:41:07Z",
                        },
                        {"name": "陈静", "title": "副秘书长", "checked_in_at": None},
                    ],
                    "meetings": [AGENDA_MEETING_EXAMPLE],
                }
            ]
        }
    )

    participant: PartyName
    event_name_zh: str
    event_name_en: str | None
    venue: str
    date: datetime_date = Field(description="The event's day, in its own time zone.")
    published: bool = Field(description="False until a schedule is published: then no meetings.")
    meetings: list[AgendaEntry]
    people: list[AgendaPerson] = Field(
        description="The party's people and who of them is present (checked in)."
    )
