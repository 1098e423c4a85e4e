"""API keys in and out; the secret appears only in the answer that creates a key."""

import uuid
from datetime import date as datetime_date
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.auth.service import Permission
from service.schemas import Name, StrictModel, examples, examples_of


class ApiKeyCreate(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "SAC/TC 297 secretariat",
                    "role": "partner",
                    "committee_id": "8d3f4c1e-2b7a-4f7e-9a51-0c6f1b2d3e4f",
                },
                {
                    "name": "Hall A kiosk 1",
                    "role": "kiosk",
                    "event_id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                },
            ]
        },
    )

    name: Name
    role: Literal["admin", "partner", "kiosk", "table_host"]
    committee_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    permissions: list[Permission] = Field(
        [],
        description="Kiosk keys only: `undo_checkin` reverses check-ins, `walk_in` registers "
        "walk-ins (with the key limited to that event).",
    )


class ApiKeyOut(BaseModel):
    model_config = examples(
        {
            "id": "5b8e0d7a-9c61-4f3a-8e2b-7d1c0a9f6e54",
            "name": "Hall A kiosk 1",
            "role": "kiosk",
            "prefix": "smk_Q2x9",
            "committee_id": None,
            "organization_id": None,
            "event_id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
            "permissions": ["undo_checkin"],
            "created_at": "2025-09-22T08:00:00Z",
            "revoked_at": None,
        }
    )

    id: uuid.UUID
    name: str
    role: str
    prefix: str
    committee_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    event_id: uuid.UUID | None
    permissions: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    # Its own example: the inherited one lacks the secret this answer always carries.
    model_config = examples(
        {
            **examples_of(ApiKeyOut)[0],
            "secret": "smk_Q2x9fV7kLmN3pR8sT1uW4yZ6aB0cD5eG9hJ2kM4nP7q",
        }
    )

    secret: str


class KeyParty(BaseModel):
    kind: Literal["committee", "organization"]
    id: uuid.UUID


class KeyEvent(BaseModel):
    id: uuid.UUID
    name_zh: str
    name_en: str | None
    venue: str
    date: datetime_date
    timezone: str = Field(description="IANA zone: check-in times are shown in it.")
    state: Literal["draft", "open", "closed"]


class Me(BaseModel):
    model_config = examples(
        {
            "key_id": "5b8e0d7a-9c61-4f3a-8e2b-7d1c0a9f6e54",
            "role": "kiosk",
            "name": "Hall A kiosk 1",
            "event_id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
            "event": {
                "id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                "name_zh": "浙江省标准稳链提升暨标技委建设工作推进会 · 技术委员会对接活动",
                "name_en": "Zhejiang standards chain-stabilization meeting: technical committee "
                "matchmaking",
                "venue": "温州国际会展中心",
                "date": "2025-09-23",
                "timezone": "Asia/Shanghai",
                "state": "open",
            },
            "party": None,
            "permissions": ["walk_in"],
        },
        {
            "key_id": "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
            "role": "partner",
            "name": "SAC/TC 297 secretariat",
            "event_id": None,
            "event": None,
            "party": {"kind": "committee", "id": "8d3f4c1e-2b7a-4f7e-9a51-0c6f1b2d3e4f"},
            "permissions": [],
        },
    )

    key_id: uuid.UUID
    role: Literal["admin", "partner", "kiosk"]
    name: str
    event_id: uuid.UUID | None = Field(description="The one event a kiosk key is bound to.")
    event: KeyEvent | None = Field(description="That event, for a key bound to one.")
    party: KeyParty | None = Field(
        description="The committee or organization a partner key speaks for."
    )
    permissions: list[Permission] = Field(
        description="What a kiosk key may do beyond check-ins (`undo_checkin`, `walk_in`); an "
        "admin key may do both without them."
    )
