"""Meeting requests, preferences, schedules and the meetings placed in them."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.models.columns import Timestamped, UTCDateTime, new_id, one_of, unique_where, utcnow

REQUEST_STATES = ("pending", "accepted", "declined", "withdrawn")
PREFERENCE_KINDS = ("must_meet", "would_like", "do_not_meet")
SCHEDULE_STATES = ("draft", "published", "superseded")
MEETING_STATUSES = ("scheduled", "held", "no_show", "cancelled")
_LIVE_MEETING = "status <> 'cancelled'"


class MeetingRequest(Timestamped, Base):
    __tablename__ = "meeting_requests"
    __table_args__ = (
        CheckConstraint(one_of("state", REQUEST_STATES), name="state"),
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


# Alike MeetingRequest in shape only: one party's wish about another, not a request it answers.
class Preference(Timestamped, Base):
    __tablename__ = "preferences"
    __table_args__ = (
        CheckConstraint(one_of("kind", PREFERENCE_KINDS), name="kind"),
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
    __table_args__ = (CheckConstraint(one_of("state", SCHEDULE_STATES), name="state"),)

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
        CheckConstraint(one_of("status", MEETING_STATUSES), name="status"),
        CheckConstraint("slot >= 1 AND table_number >= 1", name="place"),
        *(
            unique_where(name, "schedule_id", *columns, where=_LIVE_MEETING)
            for name, *columns in (
                ("uq_meetings_slot_table", "slot", "table_number"),
                ("uq_meetings_slot_committee", "slot", "committee_participant_id"),
                ("uq_meetings_slot_organization", "slot", "organization_participant_id"),
                ("uq_meetings_pair", "committee_participant_id", "organization_participant_id"),
            )
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
