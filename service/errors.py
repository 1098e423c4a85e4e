"""The ServiceError hierarchy and the handlers that render every error as a problem document."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("service.errors")

PROBLEM_TYPE_BASE = "https://errors.example/standards-matchmaking/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# A problem lists at most this many `errors`, and then says how many there were (`errors_total`).
MAX_ERRORS = 100


class ServiceError(Exception):
    """An error a client can act on; subclasses fix status, code and title."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    default_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = {**self.default_headers, **(headers or {})}
        errors = extra.get("errors")
        if isinstance(errors, list) and len(errors) > MAX_ERRORS:
            # A file of a million bad rows must not become a million-entry answer.
            extra = {**extra, "errors": errors[:MAX_ERRORS], "errors_total": len(errors)}
        self.extra = extra


# Errors are data: one small class per problem here and in each domain, alike by design, since
# each is one stable `code` in the contract.
class NotFound(ServiceError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ServiceError):
    status, code, title = 409, "conflict", "Conflict"


class InUse(Conflict):
    code, title = "in_use", "Record is referred to"


class Unprocessable(ServiceError):
    status, code, title = 422, "invalid", "Invalid request"


# Refusals several domains share, declared once.


class UnknownParty(Unprocessable):
    code, title = "unknown_party", "Party does not exist"


class SlotOutOfRange(Unprocessable):
    code, title = "slot_out_of_range", "Slot or table does not exist"


# What the middleware refuses before any route reads the request.


class InvalidJson(Unprocessable):
    code, title = "invalid_json", "Request body is not acceptable JSON"


class MalformedBody(Unprocessable):
    code, title = "malformed_body", "Request body cannot be parsed"


class NulCharacter(Unprocessable):
    code, title = "nul_character", "Text contains a NUL character"


class InvalidEncoding(Unprocessable):
    code, title = "invalid_encoding", "Text is not valid UTF-8"


class PreconditionRequired(ServiceError):
    status, code, title = 428, "precondition_required", "If-Match header required"


class PreconditionFailed(ServiceError):
    status, code, title = 412, "precondition_failed", "Record changed since it was read"


class Unauthorized(ServiceError):
    status, code, title = 401, "unauthorized", "Authentication required"
    default_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status, code, title = 403, "forbidden", "Not allowed"


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(ServiceError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class TooManyRequests(ServiceError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(ServiceError):
    status, code, title = 503, "unavailable", "Service temporarily unavailable"
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": "2"}


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database temporarily unavailable"


# What the database being down, restarting or out of connections looks like from here: the
# driver's connection errors, SQLAlchemy's wrappers of them and its pool timeout.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached now, rather than a bug."""
    current: BaseException | None = exc
    for _ in range(4):  # the exception, the driver's error it wraps, and what caused that
        if current is None:
            return False
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


def database_unavailable() -> DatabaseUnavailable:
    """The 503 a client gets while the database is away; it may retry after a moment."""
    return DatabaseUnavailable(
        "The database is not reachable at the moment; retry after the time in Retry-After."
    )


def problem_for(exc: Exception) -> ServiceError:
    """What a middleware answers for an error raised before any route: the error itself, or a
    503 while the database is away; anything else is a bug and raised again."""
    if isinstance(exc, ServiceError):
        return exc
    if is_database_unavailable(exc):
        return database_unavailable()
    raise exc


def problem_body(
    *, status: int, code: str, title: str, detail: str, instance: str, **extra: Any
) -> dict[str, Any]:
    """The fields of an RFC 9457 problem document, with our stable `code`."""
    return {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        **extra,
    }


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Render one RFC 9457 problem document."""
    body = problem_body(
        status=status, code=code, title=title, detail=detail, instance=request.url.path, **extra
    )
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
        # A crash is answered outside the request-id middleware; the header must still be there.
        headers = {**(headers or {}), "X-Request-ID": request_id}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_responses(*errors: type[ServiceError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route listing the problems it may answer."""
    by_status: dict[int, list[type[ServiceError]]] = {}
    # Every authenticated route may answer 401, 403, 429 and a 422 for bad input.
    listed: tuple[type[ServiceError], ...] = (
        Unauthorized,
        Forbidden,
        TooManyRequests,
        Unprocessable,
        *errors,
    )
    for error in listed:
        if error not in by_status.get(error.status, []):
            by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": "; ".join(f"{e.title} (`{e.code}`)" for e in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, group in sorted(by_status.items())
    }


def _field_path(location: Sequence[int | str]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or (str(location[0]) if location else "")


def render_problem(request: Request, error: ServiceError) -> JSONResponse:
    """An error as its problem document, for a route that answers it without raising (so its
    transaction still commits: a failed scan is kept)."""
    return problem_response(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        headers=error.headers,
        **error.extra,
    )


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return render_problem(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_path(e.get("loc", ())), "message": str(e.get("msg", "is invalid"))}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
    return problem_response(
        request,
        status=422,
        code="validation_failed",
        title="Request failed validation",
        detail=summary or "The request is invalid.",
        errors=errors,
    )


_HTTP_CODES = {413: PayloadTooLarge.code, 405: "method_not_allowed", 404: "not_found"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework's only 400s are bodies it cannot parse (multipart that is not, a body
        # FastAPI cannot read): 422 like a body that is not JSON, as the contract documents.
        reason = exc.detail if isinstance(exc.detail, str) else "The body cannot be parsed."
        return render_problem(request, MalformedBody(reason))
    phrase = HTTPStatus(exc.status_code).phrase
    code = _HTTP_CODES.get(exc.status_code) or phrase.lower().replace(" ", "_").replace(
        "-", "_"
    ).replace("'", "")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else ""
    if exc.status_code == 404 and not detail:
        detail = f"No resource at {request.url.path}."
    elif exc.status_code == 405 and not detail:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=phrase,
        detail=detail or phrase,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_unavailable(exc):
        raise exc  # a real bug: the 500 handler answers and the server logs the trace
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return await _service_error(request, database_unavailable())


async def _stale_write(request: Request, exc: Exception) -> JSONResponse:
    # Two writers sent the same If-Match at once: the version check in the UPDATE let one
    # through and found the row gone from under the other. For that client it is a 412.
    return problem_response(
        request,
        status=PreconditionFailed.status,
        code=PreconditionFailed.code,
        title=PreconditionFailed.title,
        detail="The record changed while this write was made; read it again and reapply.",
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="Something went wrong on our side; quote the request id when you report it.",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, a problem document."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StaleDataError, _stale_write)
    for family in (
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        ConnectionError,
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ):
        app.add_exception_handler(family, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
