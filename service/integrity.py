"""What the database's constraints answer, read on either database."""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


def is_unique_violation(exc: Exception, *, table: str, column: str) -> bool:
    """Whether an IntegrityError is the unique constraint on table.column, on either database."""
    message = str(getattr(exc, "orig", exc))
    return (
        f"uq_{table}_{column}" in message
        or f"UNIQUE constraint failed: {table}.{column}" in message
    )


async def delete_unless_referred(session: AsyncSession, record: Any, *, refused: Exception) -> None:
    """Delete a record, or raise `refused` when a foreign key still refers to it.

    The database decides, so a table added later that refers to the record blocks it too.
    """
    try:
        async with session.begin_nested():
            await session.delete(record)
            await session.flush()
    except IntegrityError as exc:
        raise refused from exc
