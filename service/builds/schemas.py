"""A schedule build out: its state, times and live progress."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BuildProgress(BaseModel):
    stage: str | None = Field(
        description="What the engine is doing: reading, greedy, selected, placed, searched, "
        "proved, done; null before it starts."
    )
    elapsed_seconds: float = Field(description="Since the build started (until it finished).")
    weight: int | None = Field(description="The best schedule's total weight so far.")
    weight_bound: int | None = Field(description="A proven upper bound on the weight.")
    gap: float | None = Field(description="(weight_bound - weight) / weight_bound; 0 is optimal.")
    breaks: int | None = Field(description="The best schedule's idle gaps between meetings.")
    breaks_bound: int | None = Field(description="A proven lower bound on the breaks.")


class ScheduleBuildOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
                    "event_id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                    "state": "running",
                    "mode": "rebuild",
                    "time_limit_seconds": 20.0,
                    "progress": {
                        "stage": "searched",
                        "elapsed_seconds": 3.2,
                        "weight": 1032550,
                        "weight_bound": 1032550,
                        "gap": 0.0,
                        "breaks": 6,
                        "breaks_bound": 4,
                    },
                    "attempts": 1,
                    "cancel_requested": False,
                    "error": None,
                    "schedule_id": None,
                    "schedule_url": None,
                    "created_at": "2025-09-22T08:00:00Z",
                    "started_at": "2025-09-22T08:00:00.2Z",
                    "finished_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    mode: str
    time_limit_seconds: float
    progress: BuildProgress
    attempts: int = Field(description="Runs started; a build whose worker was lost runs again.")
    cancel_requested: bool
    error: str | None = Field(description="Why the build failed, or why it was run again.")
    schedule_id: uuid.UUID | None = Field(description="The draft it built, once succeeded.")
    schedule_url: str | None = Field(description="Where the draft is, once succeeded.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
