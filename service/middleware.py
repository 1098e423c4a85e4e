"""Pure ASGI middleware: request ids and access logs, body size and media type limits, text
that cannot be read."""

import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.errors import (
    InvalidEncoding,
    InvalidJson,
    NulCharacter,
    PayloadTooLarge,
    ServiceError,
    Unprocessable,
    UnsupportedMediaType,
    render_problem,
)
from service.metrics import count_request, route_template

access_log = logging.getLogger("service.access")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")
FILE_MEDIA_TYPES = (
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/octet-stream",
    "multipart/form-data",
)


async def send_problem(scope: Scope, receive: Receive, send: Send, error: ServiceError) -> None:
    await render_problem(Request(scope, receive), error)(scope, receive, send)


class RequestContext:
    """Give every request an id, echo it as X-Request-ID, and once it is answered log one JSON
    line and count it in the metrics, both by its route template: one wrapper of `send` for
    both, timing the same span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            count_request(scope["method"], route, status, seconds)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )


class BodyLimits:
    """Refuse bodies over the size allowed (413) or of a media type the route cannot read (415)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PATCH", "PUT"):
            await self.app(scope, receive, send)
            return
        is_file_upload = scope["path"].endswith(":import")
        limit = (
            self.settings.import_max_body_bytes if is_file_upload else self.settings.max_body_bytes
        )
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await send_problem(scope, receive, send, _too_large(limit))
            return
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        accepted = FILE_MEDIA_TYPES if is_file_upload else JSON_MEDIA_TYPES
        if media_type and media_type not in accepted:
            await send_problem(
                scope,
                receive,
                send,
                UnsupportedMediaType(
                    f"Send the body as {' or '.join(accepted)}, not {media_type}."
                ),
            )
            return
        if is_file_upload:
            if not media_type:
                await send_problem(scope, receive, send, _untyped(accepted))
                return
            await self.app(scope, _counting(receive, limit), send)
            return
        # JSON bodies are small enough to read whole and check before anything acts on them.
        try:
            body = await read_body(_counting(receive, limit))
        except HTTPException:
            await send_problem(scope, receive, send, _too_large(limit))
            return
        if body and not media_type:
            # Without a media type no route can read a body; say so, rather than 422 about it.
            await send_problem(scope, receive, send, _untyped(accepted))
            return
        if body and media_type in JSON_MEDIA_TYPES:
            try:
                check_json(body)
            except (InvalidJson, NulCharacter) as error:
                await send_problem(scope, receive, send, error)
                return
        await self.app(scope, _replaying(body, receive), send)


def _untyped(accepted: tuple[str, ...]) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The body has no Content-Type; send it as {' or '.join(accepted)}.",
        accepted=list(accepted),
    )


class RefuseUnreadableText:
    """Refuse, with 422, a NUL character in the path or query (PostgreSQL text cannot hold one)
    and a query that is not UTF-8 once percent-decoded (read as is, its bytes would become
    U+FFFD and search for something the client never sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = _unreadable(scope["path"].encode(), scope.get("query_string", b""))
            if error is not None:
                await send_problem(scope, receive, send, error)
                return
        await self.app(scope, receive, send)


def _unreadable(path: bytes, query_string: bytes) -> Unprocessable | None:
    query = unquote_to_bytes(query_string)
    for part, text in (("path", path), ("query", query)):
        if b"\x00" in text:
            return NulCharacter(
                f"The {part} has a NUL character (%00), which no parameter accepts."
            )
    try:
        query.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InvalidEncoding(
            f"The query is not valid UTF-8 once percent-decoded (byte 0x{query[exc.start]:02x} "
            f"at offset {exc.start}); encode parameters as UTF-8 before percent-encoding them."
        )
    return None


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"The body contains {name}, which is not a JSON number.")


def _bounded_int(text: str) -> int:
    # Beyond 64 bits no column can hold it, and 4,300 digits is where Python refuses anyway.
    if len(text.lstrip("-")) > 19 or not _INT64_MIN <= int(text) <= _INT64_MAX:
        shown = text if len(text) <= 30 else f"{text[:12]}...({len(text)} digits)"
        raise InvalidJson(f"The integer {shown} is outside the 64-bit range this API accepts.")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise InvalidJson(f"The key {key[:100]!r} appears twice in one object.")
        seen[key] = value
    return seen


def check_json(body: bytes) -> None:
    """Refuse what Python's json would read but a strict parser must not, with a clear reason."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(
            f"The body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start})."
        ) from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
            parse_int=_bounded_int,
        )
        where = _nul_at(document, "") if "\\u0000" in text else None
    except json.JSONDecodeError as exc:
        raise InvalidJson(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise InvalidJson("The body is nested too deeply.") from None
    if where is not None:
        raise NulCharacter(
            f"The body has a NUL character (\\u0000) at {where or 'its top level'}, "
            "which no text field accepts."
        )


def _nul_at(value: Any, path: str) -> str | None:
    """Where the first NUL character is in a JSON document, as a field path."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            if "\x00" in key:
                return inner
            found = _nul_at(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException passes through FastAPI's body parsing to the 413 handler.
                raise HTTPException(413, detail=_too_large(limit).detail)
        return message

    return counting_receive


async def read_body(receive: Receive) -> bytes:
    """The whole request body, from every http.request message until the last."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the {limit} bytes allowed here.")
