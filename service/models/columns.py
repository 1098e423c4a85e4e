"""Column types and defaults every table shares."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, Index, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A fresh random record id."""
    return uuid.uuid4()


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's condition: the column holds one of the values. Levels, kinds and
    states are checked by the database too, so an import path that skips the API cannot store
    a value the API would never return."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def unique_where(name: str, *columns: str, where: str) -> Index:
    """A unique index over only the rows matching `where`, on SQLite and PostgreSQL alike."""
    return Index(
        name, *columns, unique=True, sqlite_where=text(where), postgresql_where=text(where)
    )
