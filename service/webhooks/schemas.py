"""Webhook subscriptions and their deliveries in and out."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from service.models.webhooks import WebhookEventType
from service.schemas import Absent, PatchModel, ShortText, StrictModel, examples

Url = Annotated[str, Field(min_length=1, max_length=2000, description="An http or https URL.")]
Secret = Annotated[
    str,
    Field(
        min_length=16,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="At least 16 printable ASCII characters, no spaces; generated when omitted.",
    ),
]
EventTypes = Annotated[list[WebhookEventType], Field(min_length=1, max_length=6)]

WEBHOOK_EXAMPLE: dict[str, Any] = {
    "url": "https://partner.example.com/hooks/standards",
    "event_types": ["intent.created", "intent.state_changed"],
    "description": "温州市标准化研究院 CRM",
}
WEBHOOK_OUT_EXAMPLE: dict[str, Any] = {
    "id": "2b1f3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    **WEBHOOK_EXAMPLE,
    "committee_id": None,
    "organization_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    "version": 1,
    "created_at": "2025-09-23T06:00:00Z",
    "updated_at": "2025-09-23T06:00:00Z",
}


def _unique_types(value: list[str] | None) -> list[str] | None:
    if value is not None and len(value) != len(set(value)):
        raise ValueError("each event type may be listed once")
    return value


class WebhookIn(StrictModel):
    model_config = examples(WEBHOOK_EXAMPLE)

    url: Url
    event_types: EventTypes
    description: ShortText = ""
    secret: Secret | None = None

    _check_types = field_validator("event_types")(_unique_types)


class WebhookPatch(PatchModel):
    model_config = examples({"event_types": ["intent.created"]})

    url: Url | Absent = None
    event_types: EventTypes | Absent = None
    description: ShortText | Absent = None

    _check_types = field_validator("event_types")(_unique_types)


class WebhookOut(BaseModel):
    model_config = examples(WEBHOOK_OUT_EXAMPLE)

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    committee_id: uuid.UUID | None = Field(
        description="The party whose records this subscription hears of; null: every record."
    )
    organization_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    model_config = examples(
        {**WEBHOOK_OUT_EXAMPLE, "secret": "whsec_q3Xw0mD2b7Yt9LkZ1vR8sN4eH6pA5cJ"}
    )

    secret: str = Field(description="Signs every delivery. Shown this once; keep it safe.")


class AttemptOut(BaseModel):
    number: int
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null if none came.")
    error: str | None = Field(description="Why no status came (timeout, refused address, ...).")
    duration_ms: int


class DeliveryOut(BaseModel):
    model_config = examples(
        {
            "id": "4d3c2b1a-0f9e-4d8c-b7a6-958473625140",
            "event_id": "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4",
            "event_type": "intent.state_changed",
            "status": "delivered",
            "next_attempt_at": None,
            "delivered_at": "2025-09-23T06:00:16Z",
            "created_at": "2025-09-23T06:00:00Z",
            "attempts": [
                {
                    "number": 1,
                    "at": "2025-09-23T06:00:01Z",
                    "status_code": 503,
                    "error": None,
                    "duration_ms": 84,
                },
                {
                    "number": 2,
                    "at": "2025-09-23T06:00:16Z",
                    "status_code": 200,
                    "error": None,
                    "duration_ms": 61,
                },
            ],
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID = Field(description="The stable event id, sent as Webhook-Id.")
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    next_attempt_at: datetime | None = Field(description="When a pending delivery goes next.")
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[AttemptOut]
