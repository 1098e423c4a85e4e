"""Retryable POSTs: the same Idempotency-Key and body get the first answer again, once effected.

The record lives in the database, so the guarantee holds across worker processes and machines.
"""

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth.middleware import is_authenticated
from service.config import Settings
from service.errors import (
    PROBLEM_MEDIA_TYPE,
    Conflict,
    ServiceError,
    Unprocessable,
    is_database_unavailable,
    problem_body,
    problem_for,
)
from service.middleware import read_body, send_problem
from service.models import IdempotencyRecord
from service.models.columns import utcnow

log = logging.getLogger("service.idempotency")

REPLAYED_HEADERS = ("content-type", "location", "etag")
# Retries of a record's write stop this long before its lock expires.
LOCK_MARGIN_S = 5.0
# Records being written in the background after an outage (a best effort: if the process
# ends first, the lock's expiry frees the key as before).
_retrying: set[asyncio.Task[None]] = set()


class IdempotencyKeyReused(Unprocessable):
    code, title = "idempotency_key_reused", "Idempotency key used for another request"


class IdempotencyInProgress(Conflict):
    code, title = "idempotency_in_progress", "A request with this key is still in progress"


class InvalidIdempotencyKey(Unprocessable):
    code, title = "invalid_idempotency_key", "Idempotency key is not valid"


class SecretShownOnce(Conflict):
    code, title = "secret_shown_once", "The answer held a secret, shown only once"


def answer_holds_secret(request: Request) -> None:
    """Mark this request's answer as holding a secret, which is never stored: a replay of the
    request gets a `secret_shown_once` problem pointing at the resource, not the answer."""
    request.state.answer_holds_secret = True


class Idempotency:
    """Claim the key before the work, store the answer after it, replay it on a retry."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        authorization = headers.get("authorization")
        # Only a key Authenticate admitted (known, unrevoked, within its rate limit) may claim
        # or replay; any other request goes on to its route's gate, which refuses it.
        if key is None or not authorization or not is_authenticated(scope):
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255 or not key.isprintable():
            await send_problem(
                scope,
                receive,
                send,
                InvalidIdempotencyKey("An Idempotency-Key is 1 to 255 printable characters."),
            )
            return
        try:
            body = await read_body(receive)
        except HTTPException as exc:
            await send_problem(scope, receive, send, _as_error(exc))
            return
        owner = hashlib.sha256(authorization.encode()).hexdigest()
        fingerprint = hashlib.sha256(
            b"\0".join(
                [
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    headers.get("if-match", "").encode(),
                    body,
                ]
            )
        ).hexdigest()
        sessionmaker = scope["app"].state.sessionmaker
        claimed = time.monotonic()
        try:
            replay, locked_at = await self._claim(
                sessionmaker, owner=owner, key=key, fingerprint=fingerprint
            )
        except Exception as exc:
            await send_problem(scope, receive, send, problem_for(exc))
            return
        if replay is not None:
            await _send_stored(send, replay)
            return
        response = await _run_captured(self.app, scope, body)
        claim = Claim(owner=owner, key=key, locked_at=locked_at)
        stored = response
        if scope.get("state", {}).get("answer_holds_secret") and response["status"] < 400:
            stored = _without_secret(scope["path"], response)
        try:
            await _store(sessionmaker, claim=claim, response=stored)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            # The work is done (or failed) either way: its answer is the truth the client needs.
            # The record is written once the database is back, so a retry then gets this answer
            # (or, after a failure, may do the work) instead of waiting out the lock.
            log.warning("idempotency record not stored yet: database unavailable")
            deadline = claimed + self.settings.idempotency_lock_seconds - LOCK_MARGIN_S
            _keep_trying(
                _store_when_back(sessionmaker, claim=claim, response=stored, deadline=deadline)
            )
        await _send_stored(send, response, replayed=False)

    async def _claim(
        self, sessionmaker: Any, *, owner: str, key: str, fingerprint: str
    ) -> tuple[dict[str, Any] | None, datetime]:
        """Take the key for this request (and say when), or return an earlier one's answer."""
        now = utcnow()
        try:
            async with sessionmaker.begin() as session:
                record = await session.scalar(
                    select(IdempotencyRecord)
                    .where(IdempotencyRecord.scope == owner, IdempotencyRecord.key == key)
                    .with_for_update()
                )
                if record is not None and record.expires_at <= now:
                    await session.delete(record)
                    await session.flush()
                    record = None
                if record is None:
                    session.add(
                        IdempotencyRecord(
                            scope=owner,
                            key=key,
                            fingerprint=fingerprint,
                            locked_at=now,
                            expires_at=now + timedelta(hours=self.settings.idempotency_ttl_hours),
                        )
                    )
                    return None, now
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        "This Idempotency-Key was used with a different request; "
                        "use a new key for a new request."
                    )
                if record.status is not None:
                    answer = {
                        "status": record.status,
                        "headers": record.headers or {},
                        "body": record.body or b"",
                    }
                    return answer, now
                lock_age = (now - record.locked_at).total_seconds() if record.locked_at else 1e9
                if lock_age < self.settings.idempotency_lock_seconds:
                    raise IdempotencyInProgress(
                        "A request with this Idempotency-Key is still being processed; "
                        "retry shortly for its answer.",
                    )
                # The worker that held it died before answering; this request takes over.
                record.locked_at = now
                return None, now
        except IntegrityError:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; "
                "retry shortly for its answer."
            ) from None


@dataclass(frozen=True, slots=True)
class Claim:
    """A key as one request holds it: taken at `locked_at`, which a takeover would change."""

    owner: str
    key: str
    locked_at: datetime


async def _store(sessionmaker: Any, *, claim: Claim, response: dict[str, Any]) -> None:
    """Record the answer, unless the claim is no longer this request's.

    A request that outlived its lock (or whose answer was stored late, after an outage) finds
    the key taken over or answered, and leaves it alone.
    """
    held = (
        (IdempotencyRecord.scope == claim.owner)
        & (IdempotencyRecord.key == claim.key)
        & IdempotencyRecord.status.is_(None)
        & (IdempotencyRecord.locked_at == claim.locked_at)
    )
    if response["status"] >= 500 or response["status"] in (401, 429):
        # A failure is not an answer, and neither is a refusal before any work (an unknown key,
        # a rate limit): the client's retry must be able to do the work, and callers without a
        # valid key must not fill the table.
        stmt: Any = delete(IdempotencyRecord).where(held)
    else:
        stmt = (
            update(IdempotencyRecord)
            .where(held)
            .values(
                status=response["status"],
                headers=response["headers"],
                body=response["body"],
                locked_at=None,
            )
        )
    async with sessionmaker.begin() as session:
        await session.execute(stmt.execution_options(synchronize_session=False))


async def _store_when_back(
    sessionmaker: Any, *, claim: Claim, response: dict[str, Any], deadline: float
) -> None:
    """Retry storing an answer until shortly before the claim's lock would expire."""
    delay = 0.1
    while time.monotonic() + delay < deadline:
        await asyncio.sleep(delay)
        try:
            await _store(sessionmaker, claim=claim, response=response)
        except Exception as exc:
            if not is_database_unavailable(exc):
                log.exception("idempotency record not stored")
                return
            delay = min(delay * 2, 2.0)
        else:
            log.warning("idempotency record stored after the database came back")
            return
    log.warning("idempotency record not stored: the database stayed away; the lock will expire")


async def finish_pending_stores(seconds: float) -> None:
    """At shutdown: let answers waiting for the database be stored, for up to `seconds`."""
    if not _retrying:
        return
    _, pending = await asyncio.wait(set(_retrying), timeout=seconds)
    for task in pending:
        task.cancel()
    if pending:
        log.warning(
            "%d idempotency records not stored at shutdown; their locks will expire", len(pending)
        )


def _keep_trying(work: Coroutine[Any, Any, None]) -> None:
    # The event loop keeps only weak references to tasks: hold each until it is done.
    task = asyncio.create_task(work)
    _retrying.add(task)
    task.add_done_callback(_retrying.discard)


def _without_secret(path: str, response: dict[str, Any]) -> dict[str, Any]:
    """What is stored of an answer holding a secret: a problem in its place, never the secret."""
    location = response["headers"].get("location")
    where = f" The resource it made is at {location}." if location else ""
    error = SecretShownOnce(
        "This request was done and its answer held a secret, which is shown only in the first "
        f"answer and never stored.{where} If the secret was lost, revoke what was made and make "
        "another."
    )
    body = problem_body(
        status=error.status, code=error.code, title=error.title, detail=error.detail, instance=path
    )
    headers = {"content-type": PROBLEM_MEDIA_TYPE}
    if location:
        headers["location"] = location
    return {"status": error.status, "headers": headers, "body": json.dumps(body).encode()}


def _as_error(exc: HTTPException) -> ServiceError:
    error = Unprocessable(str(exc.detail))
    error.status = exc.status_code  # type: ignore[misc]
    return error


async def _run_captured(app: ASGIApp, scope: Scope, body: bytes) -> dict[str, Any]:
    sent = False

    async def replay_receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    captured: dict[str, Any] = {"status": 500, "headers": {}, "raw_headers": [], "body": b""}
    parts: list[bytes] = []

    async def capture_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured["status"] = message["status"]
            captured["raw_headers"] = list(message.get("headers", []))
            captured["headers"] = {
                k.decode().lower(): v.decode()
                for k, v in message.get("headers", [])
                if k.decode().lower() in REPLAYED_HEADERS
            }
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, replay_receive, capture_send)
    captured["body"] = b"".join(parts)
    return captured


async def _send_stored(send: Send, stored: dict[str, Any], *, replayed: bool = True) -> None:
    if replayed:
        headers = [(k.encode(), v.encode()) for k, v in stored["headers"].items()]
        headers.append((b"content-length", str(len(stored["body"])).encode()))
        headers.append((b"idempotent-replayed", b"true"))
    else:
        headers = stored["raw_headers"]
    await send({"type": "http.response.start", "status": stored["status"], "headers": headers})
    await send({"type": "http.response.body", "body": stored["body"]})


async def purge_expired(session: AsyncSession) -> int:
    """Delete the records kept past their time; returns how many went."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
