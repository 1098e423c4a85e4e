"""Cooperation intents and memoranda of understanding in and out."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from service.directory.schemas import Contact, DomainCode
from service.schemas import Absent, LongText, Name, PatchModel, StrictModel, examples

IntentState = Literal["proposed", "confirmed", "in_progress", "fulfilled", "withdrawn"]
MemorandumState = Literal["proposed", "signed", "active", "expired", "terminated"]
Side = Literal["committee", "organization"]
DomainCodes = Annotated[
    list[DomainCode], Field(max_length=30, description="Domain codes from GET /v1/domains.")
]
Note = Annotated[LongText, Field(max_length=2000)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="Hex SHA-256.")]
DocumentUri = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://\S+$")]
Signatories = Annotated[list[uuid.UUID], Field(min_length=1, max_length=20)]


def _unique(value: list[Any] | None) -> list[Any] | None:
    if value is not None and len(value) != len(set(value)):
        raise ValueError("each item may be listed once")
    return value


# --- intents ------------------------------------------------------------------------------------

INTENT_EXAMPLE: dict[str, Any] = {
    "committee_id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
    "organization_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    "event_id": None,
    "meeting_id": None,
    "domains": ["robotics", "embodied_ai"],
    "summary": "推荐企业专家加入协作机器人安全相关工作组，开展国际标准跟踪研究。",
    "target_date": "2026-04-30",
    "committee_contact": {"name": "林晓雯", "email": "tc299@example.org", "phone": None},
    "organization_contact": {"name": "陈建国", "email": None, "phone": "+86 577 5555 0299"},
}


class IntentIn(StrictModel):
    model_config = examples(INTENT_EXAMPLE)

    committee_id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID | None = Field(None, description="The event where the parties met.")
    meeting_id: uuid.UUID | None = Field(None, description="The meeting it came from.")
    domains: DomainCodes = Field(default_factory=list)
    summary: Annotated[LongText, Field(min_length=1)]
    target_date: date | None = None
    committee_contact: Contact | None = None
    organization_contact: Contact | None = None

    _check_domains = field_validator("domains")(_unique)

    @model_validator(mode="after")
    def _meeting_needs_event(self) -> "IntentIn":
        if self.meeting_id is not None and self.event_id is None:
            raise ValueError("meeting_id needs the event_id of its event")
        return self


class IntentPatch(PatchModel):
    """JSON merge semantics: absent fields stay; null clears the date and contacts only."""

    model_config = examples({"target_date": "2026-06-30"})

    domains: DomainCodes | Absent = None
    summary: Annotated[LongText, Field(min_length=1)] | Absent = None
    target_date: date | None = None
    committee_contact: Contact | None = None
    organization_contact: Contact | None = None

    _check_domains = field_validator("domains")(_unique)


class IntentOut(BaseModel):
    model_config = examples(
        {
            "id": "6f5e4d3c-2b1a-4098-8f7e-6d5c4b3a2918",
            **INTENT_EXAMPLE,
            "proposed_by": "organization",
            "state": "confirmed",
            "next_states": ["in_progress", "withdrawn"],
            "version": 2,
            "created_at": "2025-09-23T06:10:00Z",
            "updated_at": "2025-09-23T07:45:00Z",
        }
    )

    id: uuid.UUID
    committee_id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID | None
    meeting_id: uuid.UUID | None
    domains: list[str]
    summary: str
    target_date: date | None
    committee_contact: Contact | None = Field(
        description="email and phone only for admins and the two parties; names for all."
    )
    organization_contact: Contact | None
    proposed_by: Side | None = Field(
        description="The side whose key proposed it: the other side (or an admin) confirms it. "
        "Null when an admin recorded it."
    )
    state: IntentState
    next_states: list[IntentState] = Field(description="Where `:transition` may move it now.")
    version: int
    created_at: datetime
    updated_at: datetime


class IntentTransitionIn(StrictModel):
    model_config = examples({"to": "confirmed", "note": "双方在温州对接会现场确认合作意向。"})

    to: IntentState
    note: Note = ""


# --- memoranda ----------------------------------------------------------------------------------

MEMORANDUM_EXAMPLE: dict[str, Any] = {
    "title": "大宗商品储运标准化合作备忘录",
    "title_en": "Memorandum of Cooperation on Standardization of Bulk-Commodity Storage and "
    "Transport",
    "committee_ids": ["3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"],
    "organization_ids": [
        "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
        "8b7c6d5e-4f3a-4b2c-9d1e-0f1a2b3c4d5e",
    ],
    "domains": ["bulk_commodity_storage_transport", "logistics"],
    "signed_on": "2025-09-23",
    "effective_from": "2025-09-23",
    "effective_to": "2028-09-22",
    "document": {
        "uri": "https://example.org/mou/2025-09-23-bulk-commodity-storage-transport.pdf",
        "sha256": "d7d473b8c07a193482d5d2d147b1cca320e8fa557581aa7201b2344ebac6290a",
    },
    "event_id": None,
    "notes": "",
}


class Document(StrictModel):
    uri: DocumentUri = Field(description="Where the signed document is kept.")
    sha256: Sha256 = Field(description="The SHA-256 of the signed document's bytes.")

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class MemorandumIn(StrictModel):
    model_config = examples(MEMORANDUM_EXAMPLE)

    title: Name
    title_en: Name | None = None
    committee_ids: Signatories = Field(description="The committees that signed.")
    organization_ids: Signatories = Field(
        description="The enterprises, associations and institutes that signed."
    )
    domains: DomainCodes = Field(default_factory=list)
    signed_on: date
    effective_from: date
    effective_to: date | None = None
    document: Document
    event_id: uuid.UUID | None = None
    notes: Note = ""

    _check_unique = field_validator("committee_ids", "organization_ids", "domains")(_unique)

    @model_validator(mode="after")
    def _period(self) -> "MemorandumIn":
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


CONTENT_FIELDS = frozenset(MemorandumIn.model_fields) - {"notes"}


class MemorandumPatch(PatchModel):
    """Only notes may change: the signed content answers 409 `memorandum_signed`."""

    model_config = examples({"notes": "原件存于温州市市场监督管理局标准化处。"})

    title: Name | None = None
    title_en: Name | None = None
    committee_ids: Signatories | None = None
    organization_ids: Signatories | None = None
    domains: DomainCodes | None = None
    signed_on: date | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    document: Document | None = None
    event_id: uuid.UUID | None = None
    notes: Note | Absent = None


class MemorandumOut(BaseModel):
    model_config = examples(
        {
            "id": "1a2b3c4d-5e6f-4789-8abc-def012345678",
            **MEMORANDUM_EXAMPLE,
            "signatories": [
                {
                    "committee_id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
                    "organization_id": None,
                    "signature": {
                        "actor": {
                            "key_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716",
                            "name": "ISO/TC 344 secretariat",
                            "role": "partner",
                        },
                        "note": "",
                        "at": "2025-09-23T08:30:00Z",
                    },
                    "termination_request": None,
                }
            ],
            "state": "signed",
            "next_states": ["active"],
            "version": 1,
            "created_at": "2025-09-23T08:30:00Z",
            "updated_at": "2025-09-23T08:30:00Z",
        }
    )

    id: uuid.UUID
    title: str
    title_en: str | None
    committee_ids: list[uuid.UUID]
    organization_ids: list[uuid.UUID]
    domains: list[str]
    signed_on: date
    effective_from: date
    effective_to: date | None
    document: Document
    event_id: uuid.UUID | None
    notes: str
    signatories: list["SignatoryOut"] = Field(
        description="Each signatory with its signature and its request to terminate, if given."
    )
    state: MemorandumState = Field(description="`proposed` until each signatory has signed.")
    next_states: list[MemorandumState]
    version: int
    created_at: datetime
    updated_at: datetime


# Apart from IntentTransitionIn: each lists its own flow's states in the contract.
class MemorandumTransitionIn(StrictModel):
    model_config = examples({"to": "active", "note": "备忘录自签署之日起生效。"})

    to: MemorandumState
    note: Note = ""


class SignatureIn(StrictModel):
    model_config = examples({"note": "经理事会授权签署。"})

    party_id: uuid.UUID | None = Field(
        None,
        description="For an admin: the committee or organization it signs for (required). "
        "A partner signs for its own party and leaves it out.",
    )
    note: Note = ""


# --- history ------------------------------------------------------------------------------------


class Actor(BaseModel):
    key_id: uuid.UUID | None = Field(description="The API key that made the change, if kept.")
    name: str
    role: str


class TransitionOut(BaseModel):
    model_config = examples(
        {
            "id": "0f1e2d3c-4b5a-4697-8877-665544332211",
            "from_state": "proposed",
            "to_state": "confirmed",
            "note": "双方在温州对接会现场确认合作意向。",
            "actor": {
                "key_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716",
                "name": "ISO/TC 299 secretariat",
                "role": "partner",
            },
            "at": "2025-09-23T07:45:00Z",
        }
    )

    id: uuid.UUID
    from_state: str | None = Field(description="Null for the record's creation.")
    to_state: str
    note: str
    actor: Actor
    at: datetime


class ConsentOut(BaseModel):
    actor: Actor = Field(description="Who gave it, with which key.")
    note: str
    at: datetime


class SignatoryOut(BaseModel):
    committee_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    signature: ConsentOut | None = Field(description="Null until this signatory has signed.")
    termination_request: ConsentOut | None = Field(
        description="When this signatory asked to terminate the memorandum."
    )


MemorandumOut.model_rebuild()
