"""Every ORM table of the service."""

import uuid
from datetime import date as datetime_date
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, new_id, utcnow

# Levels and kinds are checked by the database too, so an import path that skips the API cannot
# store a value the API would never return.
COMMITTEE_LEVELS = ("international", "national", "industry", "provincial")
ORGANIZATION_KINDS = ("enterprise", "association", "institute")
API_KEY_ROLES = ("admin", "partner", "kiosk")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Domain(Base):
    __tablename__ = "domains"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("domains.id"))
    position: Mapped[int] = mapped_column(Integer)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh_hans: Mapped[str] = mapped_column(String(200))
    name_zh_hant: Mapped[str] = mapped_column(String(200))
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)


class Committee(Timestamped, Base):
    __tablename__ = "committees"
    __table_args__ = (CheckConstraint(_in("level", COMMITTEE_LEVELS), name="level"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    designation: Mapped[str] = mapped_column(String(100), unique=True)
    level: Mapped[str] = mapped_column(String(20))
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    scope: Mapped[str] = mapped_column(Text, default="")
    secretariat: Mapped[str | None] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # Folded (simplified, case-folded) names and designation, so `q` finds either script.
    search_text: Mapped[str] = mapped_column(Text, default="")

    domains: Mapped[list["CommitteeDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CommitteeDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CommitteeDomain(Base):
    __tablename__ = "committee_domains"
    __table_args__ = (CheckConstraint("weight > 0 AND weight <= 1", name="weight"),)

    committee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), primary_key=True
    )
    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id"), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Organization(Timestamped, Base):
    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint(_in("kind", ORGANIZATION_KINDS), name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(20))
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    region: Mapped[str | None] = mapped_column(String(100))
    needs: Mapped[str] = mapped_column(Text, default="")
    led_national: Mapped[int] = mapped_column(Integer, default=0)
    led_industry: Mapped[int] = mapped_column(Integer, default=0)
    led_zhejiang_made: Mapped[int] = mapped_column(Integer, default=0)
    search_text: Mapped[str] = mapped_column(Text, default="")

    domains: Mapped[list["OrganizationDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OrganizationDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OrganizationDomain(Base):
    __tablename__ = "organization_domains"
    __table_args__ = (CheckConstraint("weight > 0 AND weight <= 1", name="weight"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id"), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(_in("role", API_KEY_ROLES), name="role"),
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


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


# --- events, participants and check-ins ---

EVENT_STATES = ("draft", "open", "closed")
SCAN_OUTCOMES = ("checked_in", "already_checked_in", "unknown_badge", "event_not_open")


class Event(Timestamped, Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_in("state", EVENT_STATES), name="state"),
        CheckConstraint("tables >= 1", name="tables"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    venue: Mapped[str] = mapped_column(String(300))
    date: Mapped[datetime_date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"start": RFC 3339, "end": RFC 3339}, ...]; slot n is item n-1. Slots never change once
    # meetings exist, so they live with the event rather than in a table of their own.
    slots: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    tables: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="draft")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(
            "(committee_id IS NOT NULL) <> (organization_id IS NOT NULL)", name="one_party"
        ),
        CheckConstraint("min_meetings >= 0 AND max_meetings >= min_meetings", name="meetings"),
        UniqueConstraint("event_id", "committee_id"),
        UniqueConstraint("event_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("committees.id", ondelete="RESTRICT")
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    badge_code: Mapped[str] = mapped_column(String(16), unique=True)
    unavailable_slots: Mapped[list[int]] = mapped_column(JSON, default=list)
    min_meetings: Mapped[int] = mapped_column(Integer, default=0)
    max_meetings: Mapped[int] = mapped_column(Integer)
    # A committee keeps its own table all day; given by the scheduler when not set by hand.
    table_number: Mapped[int | None] = mapped_column(Integer)
    # Folded names, full pinyin, pinyin initials and phone tails of the party and its people,
    # space-separated, so the kiosk's search is one indexed-free LIKE over one row per party.
    search_names: Mapped[str] = mapped_column(Text, default="")
    search_pinyin: Mapped[str] = mapped_column(Text, default="")
    search_initials: Mapped[str] = mapped_column(Text, default="")
    phone_tails: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    people: Mapped[list["Person"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Person.position"
    )
    committee: Mapped[Committee | None] = relationship(lazy="raise")
    organization: Mapped[Organization | None] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Person(Base):
    __tablename__ = "people"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))


class CheckIn(Base):
    __tablename__ = "checkins"
    # One check-in per participant, whatever the number of kiosks: the database decides.
    __table_args__ = (UniqueConstraint("participant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    # Attendance is kept: a checked-in participant cannot be unregistered (RESTRICT).
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    # The earliest scan's time, as the kiosk saw it; offline uploads may arrive in any order.
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kiosk_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Scan(Base):
    """Every badge presented at a kiosk, successful or not, with the answer it got."""

    __tablename__ = "scans"
    __table_args__ = (
        CheckConstraint(_in("outcome", SCAN_OUTCOMES), name="outcome"),
        UniqueConstraint("event_id", "nonce"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    nonce: Mapped[str | None] = mapped_column(String(100))
    badge_code: Mapped[str] = mapped_column(String(100))
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    kiosk_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kiosk_name: Mapped[str | None] = mapped_column(String(200))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- agreements and webhooks ---

INTENT_STATES = ("proposed", "confirmed", "in_progress", "fulfilled", "withdrawn")
MEMORANDUM_STATES = ("signed", "active", "expired", "terminated")
WEBHOOK_EVENT_TYPES = (
    "intent.created",
    "intent.state_changed",
    "memorandum.signed",
    "checkin.created",
    "schedule.published",
)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Intent(Timestamped, Base):
    """A cooperation intent between one committee and one organization."""

    __tablename__ = "intents"
    __table_args__ = (CheckConstraint(_in("state", INTENT_STATES), name="state"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # RESTRICT: the directory answers 409 in_use rather than lose the agreement with a party.
    committee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("committees.id", ondelete="RESTRICT"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("events.id", ondelete="RESTRICT"), index=True
    )
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL")
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    target_date: Mapped[datetime_date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="proposed")
    committee_contact_name: Mapped[str | None] = mapped_column(String(300))
    committee_contact_email: Mapped[str | None] = mapped_column(String(254))
    committee_contact_phone: Mapped[str | None] = mapped_column(String(40))
    organization_contact_name: Mapped[str | None] = mapped_column(String(300))
    organization_contact_email: Mapped[str | None] = mapped_column(String(254))
    organization_contact_phone: Mapped[str | None] = mapped_column(String(40))

    domains: Mapped[list["IntentDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="IntentDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class IntentDomain(Base):
    __tablename__ = "intent_domains"

    intent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intents.id", ondelete="CASCADE"), primary_key=True
    )
    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class IntentTransition(Base):
    """One change of an intent's state (from_state is null for its creation), never altered."""

    __tablename__ = "intent_transitions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    intent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intents.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    # The key's name and role are copied so the history still reads after a key is gone.
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Memorandum(Timestamped, Base):
    """A signed memorandum of understanding; only its state changes after creation."""

    __tablename__ = "memoranda"
    __table_args__ = (
        CheckConstraint(_in("state", MEMORANDUM_STATES), name="state"),
        CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="effective_period"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("events.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    signed_on: Mapped[datetime_date] = mapped_column(Date)
    effective_from: Mapped[datetime_date] = mapped_column(Date)
    effective_to: Mapped[datetime_date | None] = mapped_column(Date)
    document_uri: Mapped[str] = mapped_column(String(2000))
    document_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="signed")
    notes: Mapped[str] = mapped_column(Text, default="")

    signatories: Mapped[list["MemorandumSignatory"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="MemorandumSignatory.position"
    )
    domains: Mapped[list["MemorandumDomain"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="MemorandumDomain.position"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MemorandumSignatory(Base):
    __tablename__ = "memorandum_signatories"
    __table_args__ = (
        CheckConstraint(
            "(committee_id IS NOT NULL) <> (organization_id IS NOT NULL)", name="one_party"
        ),
        UniqueConstraint("memorandum_id", "committee_id"),
        UniqueConstraint("memorandum_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    memorandum_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memoranda.id", ondelete="CASCADE"))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("committees.id", ondelete="RESTRICT"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class MemorandumDomain(Base):
    __tablename__ = "memorandum_domains"

    memorandum_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memoranda.id", ondelete="CASCADE"), primary_key=True
    )
    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class MemorandumTransition(Base):
    """One change of a memorandum's state (from_state is null for its signing), never altered."""

    __tablename__ = "memorandum_transitions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    memorandum_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memoranda.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookSubscription(Timestamped, Base):
    """A partner system's endpoint; a party's subscription hears only of its own records."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(300), default="")
    # Kept in clear: every delivery is signed with it.
    secret: Mapped[str] = mapped_column(String(200))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OutboxEvent(Base):
    """A change worth telling partners about, written in the transaction that made it."""

    __tablename__ = "outbox_events"

    # The stable event id partners de-duplicate on (the Webhook-Id header).
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event owed to one subscription, until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While a worker sends, this is pushed past its lease; a worker that dies leaves it to expire.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    event: Mapped[OutboxEvent] = relationship(lazy="raise")
    attempt_log: Mapped[list["WebhookAttempt"]] = relationship(
        lazy="raise", order_by="WebhookAttempt.number"
    )


class WebhookAttempt(Base):
    """One POST to a partner's endpoint and what came of it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- meeting requests, preferences, schedules and meetings ---

REQUEST_STATES = ("pending", "accepted", "declined", "withdrawn")
PREFERENCE_KINDS = ("must_meet", "would_like", "do_not_meet")
SCHEDULE_STATES = ("draft", "published", "superseded")
MEETING_STATUSES = ("scheduled", "held", "no_show", "cancelled")
_LIVE_MEETING = "status <> 'cancelled'"


class MeetingRequest(Timestamped, Base):
    __tablename__ = "meeting_requests"
    __table_args__ = (
        CheckConstraint(_in("state", REQUEST_STATES), name="state"),
        CheckConstraint("from_participant_id <> to_participant_id", name="not_self"),
        UniqueConstraint("from_participant_id", "to_participant_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    from_participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    to_participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="pending")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Preference(Timestamped, Base):
    __tablename__ = "preferences"
    __table_args__ = (
        CheckConstraint(_in("kind", PREFERENCE_KINDS), name="kind"),
        CheckConstraint("participant_id <> counterpart_id", name="not_self"),
        UniqueConstraint("participant_id", "counterpart_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    counterpart_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Schedule(Base):
    """One run of the scheduler: a draft until published, then superseded by the next."""

    __tablename__ = "schedules"
    __table_args__ = (CheckConstraint(_in("state", SCHEDULE_STATES), name="state"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="draft")
    mode: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    total_weight: Mapped[int] = mapped_column(BigInteger)
    weight_bound: Mapped[int | None] = mapped_column(BigInteger)
    # What the engine reached at each level and what it could not satisfy, as it reported them.
    objective: Mapped[dict[str, Any]] = mapped_column(JSON)
    unmet: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Meeting(Base):
    """A face-to-face meeting of a committee and an organization at a slot and table.

    The unique indexes make double booking impossible whoever writes, however concurrently:
    within a schedule, a committee, an organization and a table each have one live meeting per
    slot, and a pair meets once.
    """

    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint(_in("status", MEETING_STATUSES), name="status"),
        CheckConstraint("slot >= 1 AND table_number >= 1", name="place"),
        Index(
            "uq_meetings_slot_table",
            "schedule_id",
            "slot",
            "table_number",
            unique=True,
            sqlite_where=text(_LIVE_MEETING),
            postgresql_where=text(_LIVE_MEETING),
        ),
        Index(
            "uq_meetings_slot_committee",
            "schedule_id",
            "slot",
            "committee_participant_id",
            unique=True,
            sqlite_where=text(_LIVE_MEETING),
            postgresql_where=text(_LIVE_MEETING),
        ),
        Index(
            "uq_meetings_slot_organization",
            "schedule_id",
            "slot",
            "organization_participant_id",
            unique=True,
            sqlite_where=text(_LIVE_MEETING),
            postgresql_where=text(_LIVE_MEETING),
        ),
        Index(
            "uq_meetings_pair",
            "schedule_id",
            "committee_participant_id",
            "organization_participant_id",
            unique=True,
            sqlite_where=text(_LIVE_MEETING),
            postgresql_where=text(_LIVE_MEETING),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    committee_participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    organization_participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    slot: Mapped[int] = mapped_column(Integer)
    table_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    # A locked meeting keeps its slot and table through every rebuild.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MeetingChange(Base):
    """Every status change of a meeting, with who made it and when."""

    __tablename__ = "meeting_changes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    slot: Mapped[int] = mapped_column(Integer)
    table_number: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
