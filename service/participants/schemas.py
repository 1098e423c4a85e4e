"""Participants in and out: the party they carry and its people."""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.auth.service import Principal
from service.directory.schemas import OrganizationIn
from service.events.schemas import MeetingCount, SlotNumber
from service.models import Participant
from service.schemas import Absent, Name, PatchModel, ShortText, StrictModel, examples_of


class PersonIn(StrictModel):
    name: Annotated[Name, Field(max_length=100)]
    title: ShortText | None = None
    phone: Annotated[str, Field(max_length=40, pattern=r"^\+?[0-9 ()\-]{5,40}$")] | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )
    # A person as read may be sent back as it is: the id keeps that person (and their badge),
    # the rest of what the service issued is not the client's to set and is ignored.
    id: uuid.UUID | None = Field(
        None, description="When patching, keeps this person of the party and their badge."
    )
    badge_code: str | None = Field(None, description="Read-only: ignored.", max_length=100)
    checked_in_at: datetime | None = Field(None, description="Read-only: ignored.")

    def details(self) -> dict[str, str | None]:
        """What a client sets about a person."""
        return {"name": self.name, "title": self.title, "phone": self.phone, "email": self.email}


class PersonOut(BaseModel):
    id: uuid.UUID
    name: str
    title: str | None
    phone: str | None = Field(description="Shown only to admins and the person's own party.")
    email: str | None = Field(description="Shown only to admins and the person's own party.")
    badge_code: str | None = Field(
        None,
        description="The person's own badge (it checks this person in); shown to admins, kiosks "
        "and the party itself.",
    )
    checked_in_at: datetime | None = Field(None, description="When this person checked in.")


PERSON_OUT_EXAMPLE: dict[str, Any] = {
    "id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
    "name": "刘宇宁",
    "title": "秘书长",
    "phone": "+86 135 2431 8859",
    "email": "yuning.liu@example.com",
    "badge_code": "K7QHD-3MXTA",
    "checked_in_at": None,
}

PARTICIPANT_EXAMPLE: dict[str, Any] = {
    "committee_id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
    "people": [
        {
            "name": "刘宇宁",
            "title": "秘书长",
            "phone": "+86 135 2431 8859",
            "email": "yuning.liu@example.com",
        }
    ],
    "unavailable_slots": [7, 8],
    "min_meetings": 2,
    "max_meetings": 6,
}


class ParticipantIn(StrictModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PARTICIPANT_EXAMPLE]})

    committee_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    people: Annotated[list[PersonIn], Field(min_length=1, max_length=20)]
    unavailable_slots: Annotated[list[SlotNumber], Field(max_length=64)] = []
    min_meetings: MeetingCount = 0
    max_meetings: MeetingCount | None = Field(
        None, description="Defaults to the number of slots of the event."
    )

    @model_validator(mode="after")
    def _one_party(self) -> "ParticipantIn":
        if (self.committee_id is None) == (self.organization_id is None):
            raise ValueError("give exactly one of committee_id and organization_id")
        if self.max_meetings is not None and self.max_meetings < self.min_meetings:
            raise ValueError("max_meetings must be at least min_meetings")
        return self


class ParticipantPatch(PatchModel):
    people: Annotated[list[PersonIn], Field(min_length=1, max_length=20)] | Absent = None
    unavailable_slots: Annotated[list[SlotNumber], Field(max_length=64)] | Absent = None
    min_meetings: MeetingCount | Absent = None
    max_meetings: MeetingCount | Absent = None


PartyKind = Literal["committee", "enterprise", "association", "institute"]


class Party(BaseModel):
    kind: PartyKind
    id: uuid.UUID
    name_zh: str
    name_en: str | None
    designation: str | None = Field(description="Committees only.")


class ParticipantOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "event_id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                    "party": {
                        "kind": "committee",
                        "id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
                        "name_zh": "物联网",
                        "name_en": "Internet of Things and digital twin",
                        "designation": "ISO/IEC JTC 1/SC 41",
                    },
                    "badge_code": "K7QHD-3MXTA",
                    "people": [PERSON_OUT_EXAMPLE],
                    "unavailable_slots": [7, 8],
                    "min_meetings": 2,
                    "max_meetings": 6,
                    "checked_in_at": None,
                    "version": 1,
                    "created_at": "2025-09-01T02:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID
    party: Party
    badge_code: str | None = Field(
        description="The party's badge, which is its first person's own (a party of one needs "
        "no other); shown to admins, kiosks and the party itself."
    )
    people: list[PersonOut]
    unavailable_slots: list[int]
    min_meetings: int
    max_meetings: int
    checked_in_at: datetime | None = Field(
        description="When the party arrived: its first person's check-in."
    )
    version: int
    created_at: datetime


# Apart from the directory's ImportResult: the contract words a roster's counts its own way.
class ParticipantImportResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"created": 57, "updated": 0, "unchanged": 0}]}
    )

    created: int
    updated: int = Field(description="Participants that were registered and changed.")
    unchanged: int = Field(description="Participants registered already as the roster gives.")


def party_out(participant: Participant) -> Party:
    """The committee or organization a participant stands for."""
    if participant.committee is not None:
        c = participant.committee
        return Party(
            kind="committee",
            id=c.id,
            name_zh=c.name_zh,
            name_en=c.name_en,
            designation=c.designation,
        )
    o = participant.organization
    assert o is not None
    return Party(kind=o.kind, id=o.id, name_zh=o.name_zh, name_en=o.name_en, designation=None)


def participant_out(
    participant: Participant,
    principal: Principal,
    checked_in_at: datetime | None,
    present: Mapping[uuid.UUID, datetime] | None = None,
) -> ParticipantOut:
    """A participant as this caller may see it: contacts and badges only where entitled;
    `present` says when each of its people checked in."""
    present = present or {}
    private = principal.is_admin or principal.speaks_for(participant)
    sees_badge = private or principal.role == "kiosk"
    return ParticipantOut(
        id=participant.id,
        event_id=participant.event_id,
        party=party_out(participant),
        badge_code=participant.badge_code if sees_badge else None,
        people=[
            PersonOut(
                id=p.id,
                name=p.name,
                title=p.title,
                phone=p.phone if private else None,
                email=p.email if private else None,
                badge_code=p.badge_code if sees_badge else None,
                checked_in_at=present.get(p.id),
            )
            for p in participant.people
        ],
        unavailable_slots=participant.unavailable_slots,
        min_meetings=participant.min_meetings,
        max_meetings=participant.max_meetings,
        checked_in_at=checked_in_at,
        version=participant.version,
        created_at=participant.created_at,
    )


class WalkInIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "organization": {
                        "kind": "enterprise",
                        "name_zh": "温州鹿城门前新能源有限公司",
                        "credit_code": "91330300MA2H4K7QXH",
                    },
                    "people": [{"name": "周敏", "title": "总经理", "phone": "+86 138 5777 0123"}],
                }
            ]
        },
    )

    organization: OrganizationIn = Field(
        description="Found by its credit code, else by its Chinese name; created when neither "
        "finds it (then with what is given here)."
    )
    people: Annotated[list[PersonIn], Field(min_length=1, max_length=20)] = Field(
        description="Who walked in; someone the party already lists (by name) keeps their badge."
    )


class WalkInBadge(BaseModel):
    person_id: uuid.UUID
    name: str
    badge_code: str
    badge_svg: str = Field(description="Where to fetch the printable badge.")
    badge_png: str


class WalkInOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organization_created": True,
                    "participant_created": True,
                    "people_created": 1,
                    "participant": examples_of(ParticipantOut)[0],
                    "badges": [
                        {
                            "person_id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
                            "name": "周敏",
                            "badge_code": "K7QHD-3MXTA",
                            "badge_svg": "/v1/events/1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10/"
                            "participants/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/people/"
                            "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a/badge.svg",
                            "badge_png": "/v1/events/1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10/"
                            "participants/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/people/"
                            "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a/badge.png",
                        }
                    ],
                }
            ]
        }
    )

    organization_created: bool
    participant_created: bool
    people_created: int
    participant: ParticipantOut
    badges: list[WalkInBadge] = Field(description="The badges of the people who walked in.")
