"""API keys, the idempotency records of their requests, and their rate-limit windows."""

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.models.columns import UTCDateTime, new_id, one_of, utcnow

# A table host (桌长) marks the meetings of its event held or no-show, and does nothing else.
API_KEY_ROLES = ("admin", "partner", "kiosk", "table_host")
# What a kiosk key may do beyond the door's scans and searches, given when the key is created:
# reverse a check-in, register a walk-in. Admins may do both.
API_KEY_PERMISSIONS = ("undo_checkin", "walk_in")


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(one_of("role", API_KEY_ROLES), name="role"),
        CheckConstraint(
            "(role = 'partner') = ((committee_id IS NOT NULL) <> (organization_id IS NOT NULL))",
            name="partner_party",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # Only a hash is kept: a database leak does not hand out working keys.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE")
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    # Scoped by the hash of the API key that sent it: two clients may pick the same key.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
