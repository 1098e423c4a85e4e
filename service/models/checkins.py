"""Check-ins at the door and every scan kiosks sent."""

import uuid
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.models.columns import UTCDateTime, new_id, one_of, utcnow

# The type the API's schemas use, and the values the table's CHECK constraint allows.
ScanOutcome = Literal[
    "checked_in",
    "already_checked_in",
    "unknown_badge",
    "event_not_open",
    "scan_time_refused",
    # Not a scan but a reversal of a check-in, kept in the same history with its reason.
    "checkin_undone",
]
SCAN_OUTCOMES: tuple[str, ...] = get_args(ScanOutcome)


class CheckIn(Base):
    __tablename__ = "checkins"
    # One check-in per person, whatever the number of kiosks: the database decides. A party has
    # arrived when its first person has.
    __table_args__ = (UniqueConstraint("person_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    # Attendance is kept: a checked-in participant cannot be unregistered (RESTRICT).
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="RESTRICT")
    )
    # Null only when the person was since taken off the party's list: the party still came.
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    # The earliest scan's time, as the kiosk saw it; offline uploads may arrive in any order.
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kiosk_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Scan(Base):
    """Every badge presented at a kiosk, successful or not, with what it came to."""

    __tablename__ = "scans"
    __table_args__ = (
        CheckConstraint(one_of("outcome", SCAN_OUTCOMES), name="outcome"),
        # A nonce is the kiosk's own: unique per API key, so two devices never cross.
        UniqueConstraint("kiosk_key_id", "nonce"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    nonce: Mapped[str | None] = mapped_column(String(100))
    badge_code: Mapped[str] = mapped_column(String(100))
    participant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    kiosk_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kiosk_name: Mapped[str | None] = mapped_column(String(200))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    # Why a check-in was undone (outcome checkin_undone only).
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
