"""Settings read from the environment; DATABASE_URL first."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.scoring.weights import ScoringWeights

DEFAULT_SQLITE_PATH = Path("var") / "service.db"


class Settings(BaseSettings):
    """Every knob of the service, each overridable by an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    # Database statements that run longer are cancelled so one bad query cannot hold a worker.
    statement_timeout_ms: int = 5_000
    # A request waits this long for a pooled connection before the service answers 503.
    pool_timeout_s: float = 5.0
    # Connections a process keeps to PostgreSQL, opened as requests need them and kept open:
    # none beyond them. (SQLAlchemy's default, 5 kept and 10 more closed as soon as they are
    # returned, opened and closed a connection every 160 requests at 8 requests in flight.)
    pool_size: int = Field(15, ge=1)  # 0 would be SQLAlchemy's "no limit"

    max_body_bytes: int = 1 << 20
    import_max_body_bytes: int = 20 << 20

    # Where the per-key rate limits are counted, shared by every worker on every machine
    # (redis://host:6379/0). Without it each process counts alone: right for one process.
    redis_url: str | None = None
    # Requests per API key in any 60 s, by role; 0 means unlimited.
    rate_limit_admin: int = 0
    rate_limit_partner: int = 600
    rate_limit_kiosk: int = 6_000
    rate_limit_table_host: int = 600

    idempotency_ttl_hours: int = 24
    # A request still marked in progress after this long is taken to have died with its worker.
    idempotency_lock_seconds: int = 60

    # Browsers are refused until origins are configured: a JSON list in the environment,
    # CORS_ORIGINS='["https://a.example", "https://b.example"]'.
    cors_origins: list[str] = Field(default_factory=list)

    log_level: str = "INFO"

    # The door refuses a scan time later than now by more than this (kiosk clocks drift) ...
    checkin_clock_skew_seconds: int = Field(120, ge=0)
    # ... and one outside the event's day (its date in its timezone, widened to its slots) by
    # more than this: offline uploads arrive late, but their scans happened at the event.
    checkin_grace_hours: float = Field(2.0, ge=0)

    # The coefficients of the match score (docs/matching.md): how much a domain pair counts by
    # relation, and how much the text signal may add. Each in [0, 1]; none above exact.
    match_weight_exact: float = Field(1.0, ge=0, le=1)
    match_weight_text: float = Field(0.1, ge=0, le=1)

    # Webhooks. The delivery worker runs in every app process unless disabled; passes poll the
    # outbox this often, send at most a batch at a time, and retry with exponential backoff
    # (base doubling up to the cap, plus up to 20% jitter) until the attempts run out.
    webhook_worker_enabled: bool = True
    webhook_poll_seconds: float = Field(1.0, gt=0)
    webhook_batch_size: int = Field(20, ge=1, le=500)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(10, ge=1)
    webhook_backoff_base_seconds: float = Field(5.0, ge=0)
    webhook_backoff_max_seconds: float = Field(3600.0, ge=0)
    # `purge` deletes events emitted longer ago than this that no delivery still owes.
    webhook_retention_days: int = Field(30, ge=1)
    # Loopback, private and link-local destinations are refused unless this is set (tests do).
    webhook_allow_private_networks: bool = False

    # How preferences and requests raise a pair's weight in the schedule over its match score
    # (0 to 10,000, hundredths of a point): see docs/matching.md.
    schedule_bonus_must_meet: int = Field(10_000, ge=0)
    schedule_bonus_would_like: int = Field(4_000, ge=0)
    schedule_bonus_request: int = Field(5_000, ge=0)
    schedule_time_limit_seconds: float = Field(20.0, gt=0, le=600)

    # Schedule builds run as jobs (docs/jobs.md). Where: "local" in a pool of processes of the
    # service itself, "queue" on procrastinate's PostgreSQL queue, served by
    # `python -m service worker`; "auto" is local on SQLite and the queue on PostgreSQL.
    build_runner: Literal["auto", "local", "queue"] = "auto"
    # Builds one process (web worker with the local pool, or `worker`) runs at once; each has a
    # process of its own, and the engine uses two cores.
    build_processes: int = Field(1, ge=1, le=64)
    # A running build renews its heartbeat about every half second; one whose heartbeat is older
    # than the lease lost its process and is run again, up to BUILD_MAX_ATTEMPTS runs, else failed.
    build_lease_seconds: float = Field(15.0, gt=1)
    build_max_attempts: int = Field(2, ge=1)
    # A stopping worker lets running builds go on this long, then stops them and queues them again.
    build_stop_grace_seconds: float = Field(10.0, ge=0)
    # The niceness of a build's process: on cores it shares with web workers, requests first.
    build_nice: int = Field(10, ge=0, le=19)

    @model_validator(mode="after")
    def _check_scoring_weights(self) -> "Settings":
        # A bad value (an exact weight of 0, say) stops the process at start, not at the
        # first match request.
        self.scoring_weights()
        return self

    def scoring_weights(self) -> ScoringWeights:
        """The match score's coefficients as the scoring engine takes them."""
        return ScoringWeights(
            exact=self.match_weight_exact,
            text=self.match_weight_text,
        )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
