"""Cursor pagination: stable order by creation time, ties broken by id."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from service.errors import Unprocessable
from service.schemas import Page

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50


class InvalidCursor(Unprocessable):
    code, title = "invalid_cursor", "Cursor is not valid"


def _pack(position: list[Any]) -> str:
    """An opaque cursor holding a position: JSON in URL-safe base64, unpadded."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# Ours are under 200 characters; a longer one was not made here, and is not worth decoding.
MAX_CURSOR_CHARS = 1_000


def _unpack(cursor: str) -> list[Any]:
    """The flat list _pack packed: its items strings or integers, else InvalidCursor."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("The cursor was not returned by this API.")
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursor("The cursor was not returned by this API.") from exc
    if not isinstance(position, list) or not all(
        isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool))
        for item in position
    ):
        raise InvalidCursor("The cursor was not returned by this API.")
    return position


def encode_cursor(created_at: datetime, record_id: uuid.UUID) -> str:
    """An opaque cursor pointing just after the given record."""
    return _pack([created_at.isoformat(), str(record_id)])


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor points after; 422 when it was not made by us."""
    position = _unpack(cursor)
    try:
        created_at, record_id = position
        if not isinstance(created_at, str) or not isinstance(record_id, str):
            raise TypeError(position)
        after = datetime.fromisoformat(created_at)
        if after.utcoffset() is None:
            raise ValueError("a cursor's time has its offset")
        return after, uuid.UUID(record_id)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor was not returned by this API.") from exc


Rank = tuple[int, str, str]


def page_of_ranked(
    ranked: list[tuple[Rank, T]], *, query: str, limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """One page of a search's results sorted by rank, best first, and the next page's cursor.

    The cursor holds the query and the last rank served, so the next page starts after it even
    if records were added or changed in between, as with the listings' cursors.
    """
    if cursor:
        after = _decode_rank(cursor, query)
        ranked = [item for item in ranked if item[0] > after]
    if len(ranked) <= limit:
        return [item for _, item in ranked], None
    page = ranked[:limit]
    return [item for _, item in page], _pack([query, *page[-1][0]])


def _decode_rank(cursor: str, query: str) -> Rank:
    position = _unpack(cursor)
    try:
        searched, score, name, record_id = position
        if not (isinstance(score, int) and isinstance(name, str) and isinstance(record_id, str)):
            raise TypeError(cursor)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor was not returned by this API for a search.") from exc
    if searched != query:
        raise InvalidCursor("The cursor belongs to another search; send the same q with it.")
    return score, name, record_id


async def fetch_page(
    session: AsyncSession,
    stmt: Select[T],
    *,
    created_at: InstrumentedAttribute[datetime],
    record_id: InstrumentedAttribute[uuid.UUID],
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of `stmt` and the cursor of the next, or None at the end."""
    if cursor:
        after_time, after_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(created_at > after_time, and_(created_at == after_time, record_id > after_id))
        )
    rows = list(
        (await session.scalars(stmt.order_by(created_at, record_id).limit(limit + 1))).all()
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last: Any = rows[-1]
    return rows, encode_cursor(getattr(last, created_at.key), getattr(last, record_id.key))


async def page_of(
    session: AsyncSession,
    stmt: Select[T],
    table: Any,
    render: Callable[[T], R],
    *,
    limit: int,
    cursor: str | None,
) -> Page[R]:
    """One page of a listing, oldest first: `table` is the mapped class whose `created_at` and
    `id` order it, `render` what each row is shown as."""
    rows, next_cursor = await fetch_page(
        session, stmt, created_at=table.created_at, record_id=table.id, limit=limit, cursor=cursor
    )
    return Page(items=[render(row) for row in rows], next_cursor=next_cursor)
