"""Optimistic concurrency over HTTP: ETag out, If-Match in."""

from typing import Annotated

from fastapi import Header

from service.errors import PreconditionFailed, PreconditionRequired

IfMatch = Annotated[str | None, Header(description="The ETag of the version you read.")]


def etag(version: int) -> str:
    """The strong entity tag of a record version."""
    return f'"{version}"'


def require_match(if_match: str | None, *, version: int) -> None:
    """Refuse a write made without If-Match (428) or against another version (412)."""
    if not if_match:
        raise PreconditionRequired(
            "Send If-Match with the ETag of the version you read, so no change is lost."
        )
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and etag(version) not in tags:
        raise PreconditionFailed(
            f"The record is at version {version}; read it again and reapply your change.",
            current_etag=etag(version),
        )
