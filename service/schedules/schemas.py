"""Building and publishing an event's schedule, in and out."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.meetings.schemas import PartyName
from service.schemas import StrictModel


class ScheduleRequest(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"mode": "rebuild"}, {"mode": "fill", "time_limit_seconds": 5}]
        },
    )

    mode: Literal["rebuild", "fill"] = Field(
        "rebuild",
        description="rebuild: the best schedule, changing as few published meetings as the "
        "objective allows; fill: keep every published meeting and only fill free slots.",
    )
    fairness: Annotated[int, Field(ge=0, le=64)] | None = Field(
        None, description="Optional bound on the difference in idle gaps between participants."
    )
    # A request holds a worker while the solver runs: two minutes at most.
    time_limit_seconds: Annotated[float, Field(gt=0, le=120)] | None = Field(
        None,
        description=(
            "Solver time limit, spent as work (seconds on the reference machine) so that the "
            "same input gives the same schedule; on a busier or slower machine the build takes "
            "longer; past twice the limit plus 5 s it stops where it is (within a second or "
            "two). The answer comes as soon as it is proven optimal."
        ),
    )


class UnmetOut(BaseModel):
    kind: str = Field(description="required_pair, below_min, locked or candidate.")
    participants: list[PartyName]
    reason: str


class ScheduleOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "event_id": "1f0e6a52-7d43-4d8e-a1c5-3b9f2e7d6c10",
                    "state": "draft",
                    "mode": "rebuild",
                    "status": "optimal",
                    "meetings": 131,
                    "total_weight": 1032550,
                    "weight_bound": 1032550,
                    "gap": 0.0,
                    "objective": {
                        "required_missing": 0,
                        "shortfall": 0,
                        "weight": 1032550,
                        "changes": 0,
                        "breaks": 4,
                    },
                    "unmet": [],
                    "seconds": 0.42,
                    "created_at": "2025-09-22T08:00:00Z",
                    "published_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID
    state: Literal["draft", "published", "superseded"]
    mode: str
    status: Literal["optimal", "feasible", "infeasible", "unknown"]
    meetings: int
    total_weight: int = Field(description="The sum of the scheduled pairs' weights.")
    weight_bound: int | None = Field(description="The best bound the solver proved.")
    gap: float | None = Field(description="(bound - total) / bound; 0 means proven optimal.")
    objective: dict[str, int]
    unmet: list[UnmetOut]
    seconds: float
    created_at: datetime
    published_at: datetime | None
