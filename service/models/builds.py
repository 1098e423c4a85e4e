"""Schedule builds: one run of the engine for an event, queued, running and finished."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.models.columns import UTCDateTime, new_id, one_of, unique_where, utcnow

BUILD_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_BUILD = "state IN ('queued', 'running')"


class ScheduleBuild(Base):
    """A request to build an event's draft schedule, and how it went.

    The partial unique index lets one build per event be queued or running: a second is refused
    by the database however many web workers take requests. `heartbeat_at` is renewed by the
    process running the build; a build whose heartbeat is older than the lease has lost its
    worker and is retried or failed by the next sweep (service/jobs/runner.py).
    """

    __tablename__ = "schedule_builds"
    __table_args__ = (
        CheckConstraint(one_of("state", BUILD_STATES), name="state"),
        unique_where("uq_schedule_builds_active_event", "event_id", where=ACTIVE_BUILD),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="queued")
    mode: Mapped[str] = mapped_column(String(10))
    fairness: Mapped[int | None] = mapped_column(Integer)
    time_limit_seconds: Mapped[float] = mapped_column(Float)
    # The engine's figures so far: stage, weight, weight_bound, breaks, breaks_bound.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
