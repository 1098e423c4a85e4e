"""Events: one day, its slots and tables, and its state."""

import uuid
from datetime import date as datetime_date

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    Integer,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.models.columns import Timestamped, new_id, one_of

EVENT_STATES = ("draft", "open", "closed")
# Pairs scoring under this (points) meet only when requested or marked must-meet; see
# docs/matching.md, "Meeting weights for the schedule".
DEFAULT_MIN_MEETING_SCORE = 30.0


class Event(Timestamped, Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(one_of("state", EVENT_STATES), name="state"),
        CheckConstraint("tables >= 1", name="tables"),
        CheckConstraint(
            "min_meeting_score >= 0 AND min_meeting_score <= 100", name="min_meeting_score"
        ),
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
    min_meeting_score: Mapped[float] = mapped_column(
        Float, default=DEFAULT_MIN_MEETING_SCORE, server_default=str(DEFAULT_MIN_MEETING_SCORE)
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
