"""Record versions: moved only by a real change; ETag out, If-Match in."""

import uuid
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import PreconditionFailed, PreconditionRequired
from service.models.columns import utcnow

IfMatch = Annotated[str | None, Header(description="The ETag of the version you read.")]


def etag(version: int | uuid.UUID) -> str:
    """The strong entity tag of a record version (of a draft schedule, which a build replaces
    whole: its id)."""
    return f'"{version}"'


def matches(if_match: str, version: int | uuid.UUID) -> bool:
    """Whether an If-Match header names this version (or any, `*`)."""
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    return "*" in tags or etag(version) in tags


def require_match(if_match: str | None, *, version: int) -> None:
    """Refuse a write made without If-Match (428) or against another version (412)."""
    if not if_match:
        raise PreconditionRequired(
            "Send If-Match with the ETag of the version you read, so no change is lost."
        )
    if not matches(if_match, version):
        raise PreconditionFailed(
            f"The record is at version {version}; read it again and reapply your change.",
            current_etag=etag(version),
        )


def stamp_if_changed(session: AsyncSession, record: Any, *, children_changed: bool = False) -> bool:
    """Stamp updated_at, which moves the version and the ETag, only on a real change: the
    record's own columns and collections as the session sees them, or `children_changed` for
    edits inside child rows it cannot see. A write of the same values leaves it as it was.
    Whether it changed."""
    if inspect(record).pending:
        # A new record: its insert stamps created_at and then updated_at. Stamped here, before
        # the flush, it would read as updated before it was created.
        return True
    if children_changed or session.is_modified(record):
        record.updated_at = utcnow()
        return True
    return False
