"""The kiosk's check-in in and out."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.meetings.schemas import Agenda, AgendaEntry
from service.models.checkins import ScanOutcome
from service.participants.schemas import PERSON_OUT_EXAMPLE, ParticipantOut, PartyKind, PersonOut
from service.schemas import StrictModel, examples_of


class CheckInIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"badge_code": "K7QHD-3MXTA", "nonce": "kiosk-3-000217"},
                {
                    "badge_code": "K7QHD-3MXTA",
                    "nonce": "kiosk-3-000218",
                    "scanned_at": "2025-09-23T08:41:07+08:00",
                },
            ]
        },
    )

    badge_code: Annotated[str, Field(min_length=1, max_length=100)]
    nonce: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="Unique per scan on a kiosk; a repeat returns the first answer."
    )
    scanned_at: AwareDatetime | None = Field(
        None, description="When an offline kiosk scanned the badge; kept as the check-in time."
    )


class CheckInOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": None,
                    "checked_in_at": "2025-09-23T00:41:07Z",
                    "participant": {
                        **examples_of(ParticipantOut)[0],
                        "checked_in_at": "2025-09-23T00:41:07Z",
                    },
                    "agenda": examples_of(Agenda)[0]["meetings"],
                    "person": {
                        **PERSON_OUT_EXAMPLE,
                        "phone": None,
                        "email": None,
                        "checked_in_at": "2025-09-23T00:41:07Z",
                    },
                }
            ]
        }
    )

    reason: Literal["already_checked_in"] | None = Field(
        description="Null the first time; `already_checked_in` on every repeat."
    )
    checked_in_at: datetime = Field(
        description="The (earliest) scan time of this person's check-in."
    )
    participant: ParticipantOut = Field(
        description="The person's party; its `checked_in_at` is its first person's."
    )
    agenda: list[AgendaEntry] = Field(description="The participant's published meetings.")
    person: PersonOut = Field(description="Who checked in: the holder of the badge scanned.")


class StatusCounts(BaseModel):
    registered: int
    checked_in: int
    expected: int


class CheckInStatus(BaseModel):
    """Parties (`total`, `by_kind`: a party counts once its first person is in) and people."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": {"registered": 57, "checked_in": 41, "expected": 16},
                    "by_kind": {
                        "committee": {"registered": 22, "checked_in": 20, "expected": 2},
                        "enterprise": {"registered": 22, "checked_in": 13, "expected": 9},
                        "association": {"registered": 7, "checked_in": 5, "expected": 2},
                        "institute": {"registered": 6, "checked_in": 3, "expected": 3},
                    },
                    "people": {"registered": 80, "checked_in": 52, "expected": 28},
                    "people_by_kind": {
                        "committee": {"registered": 30, "checked_in": 25, "expected": 5},
                        "enterprise": {"registered": 32, "checked_in": 17, "expected": 15},
                        "association": {"registered": 10, "checked_in": 6, "expected": 4},
                        "institute": {"registered": 8, "checked_in": 4, "expected": 4},
                    },
                }
            ]
        }
    )

    total: StatusCounts
    by_kind: dict[PartyKind, StatusCounts]
    people: StatusCounts
    people_by_kind: dict[PartyKind, StatusCounts]


class ScanOut(BaseModel):
    id: uuid.UUID
    scanned_at: datetime = Field(description="When scanned; for `checkin_undone`, when undone.")
    badge_code: str
    outcome: ScanOutcome
    reason: str | None = Field(None, description="Why a check-in was undone (`checkin_undone`).")
    participant_id: uuid.UUID | None
    person_id: uuid.UUID | None
    kiosk_key_id: uuid.UUID | None
    kiosk_name: str | None
    nonce: str | None


class CheckInUndo(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"badge_code": "K7QHD-3MXTA", "reason": "扫错了人 scanned the wrong badge"}
            ]
        },
    )

    badge_code: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class CheckInUndone(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "badge_code": "K7QHD-3MXTA",
                    "undone_checked_in_at": "2025-09-23T00:41:07Z",
                    "undone_at": "2025-09-23T00:43:00Z",
                    "reason": "扫错了人 scanned the wrong badge",
                    "by": "Hall A kiosk 1",
                    "participant": examples_of(ParticipantOut)[0],
                    "person": {**PERSON_OUT_EXAMPLE, "phone": None, "email": None},
                }
            ]
        }
    )

    badge_code: str
    undone_checked_in_at: datetime = Field(description="The check-in time that was reversed.")
    undone_at: datetime
    reason: str
    by: str | None = Field(description="The name of the key that undid it.")
    participant: ParticipantOut = Field(
        description="The participant as it stands now (`checked_in_at` null unless another of "
        "its people is still checked in)."
    )
    person: PersonOut = Field(description="Whose check-in was undone.")
