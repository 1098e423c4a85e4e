"""create_app(): lifespan, middleware, routers, error handlers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service import schema_migrations
from service.agreements.routes import router as agreements_router
from service.auth.known_keys import RevocationListener
from service.auth.middleware import Authenticate
from service.auth.routes import router as api_keys_router
from service.builds.routes import router as builds_router
from service.checkins.routes import router as checkins_router
from service.config import Settings, get_settings
from service.db import create_engine, create_sessionmaker, statement_connections
from service.directory.routes import router as directory_router
from service.errors import (
    PROBLEM_MEDIA_TYPE,
    DatabaseUnavailable,
    InvalidEncoding,
    InvalidJson,
    NulCharacter,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
    install_error_handlers,
    problem_response,
)
from service.events.routes import router as events_router
from service.idempotency import (
    Idempotency,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    finish_pending_stores,
)
from service.jobs.dispatch import schedule_builds
from service.logs import configure_logging
from service.matching.routes import router as matching_router
from service.meetings.routes import router as meetings_router
from service.metrics import RequestMetrics, add_metrics_route
from service.middleware import BodyLimits, RefuseUnreadableText, RequestContext
from service.participants.routes import router as participants_router
from service.rate_limits import create_rate_limiter
from service.reports.routes import router as reports_router
from service.schedules.routes import router as schedules_router
from service.schemas import Problem
from service.web.routes import add_pages
from service.webhooks.delivery import DeliveryWorker
from service.webhooks.routes import router as webhooks_router

# At shutdown, how long answers still waiting for the database after an outage may take.
STORE_GRACE_S = 5.0

API_DESCRIPTION = """\
Matchmaking between standardization technical committees and the enterprises, industry
associations and research institutes that need their standards: a bilingual directory, match
scores, the event day (registration, badges, check-in, schedules) and the agreements that follow.

Every route but the health checks needs `Authorization: Bearer <api key>`. Errors are RFC 9457
problem documents with a stable `code`. Every POST takes an optional `Idempotency-Key`.
"""


def create_app(
    settings: Settings | None = None, *, engine: AsyncEngine | None = None, bind: Any = None
) -> FastAPI:
    """The application; tests may hand in an engine, or a connection to bind sessions to."""
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = None
        if bind is not None:
            app.state.sessionmaker = create_sessionmaker(
                bind, join_transaction_mode="create_savepoint"
            )
            app.state.engine = bind.engine if hasattr(bind, "engine") else bind
        else:
            own_engine = engine or create_engine(settings)
            app.state.engine = own_engine
            app.state.sessionmaker = create_sessionmaker(own_engine)
        app.state.statement_connections = statement_connections(app.state.sessionmaker)
        app.state.rate_limiter = create_rate_limiter(settings.redis_url)
        # Other processes revoke keys too; on a test's connection this process is the only one.
        listener = None
        if bind is None and app.state.engine.dialect.name == "postgresql":
            listener = RevocationListener(app.state.engine.url)
            await listener.start(wait=settings.pool_timeout_s)
        app.state.revocation_listener = listener
        # Not on a test's connection: its transaction is not for a background task to share.
        worker = None
        if bind is None and settings.webhook_worker_enabled:
            worker = DeliveryWorker(app.state.sessionmaker, settings=settings)
            worker.start()
        app.state.builds = schedule_builds(
            app.state.sessionmaker, settings, shared=bind is not None
        )
        app.state.builds.start()
        try:
            yield
        finally:
            await app.state.builds.stop()
            if worker is not None:
                await worker.stop()
            if listener is not None:
                await listener.stop()
            await app.state.rate_limiter.close()
            await finish_pending_stores(seconds=STORE_GRACE_S)
            if own_engine is not None and engine is None:
                await own_engine.dispose()

    app = FastAPI(
        title="Standards Matchmaking API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # service/web serves /docs with Swagger UI from the service itself
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_keys_router)
    app.include_router(directory_router)
    app.include_router(agreements_router)
    app.include_router(webhooks_router)
    app.include_router(matching_router)
    app.include_router(events_router)
    app.include_router(participants_router)
    app.include_router(checkins_router)
    app.include_router(meetings_router)
    app.include_router(schedules_router)
    app.include_router(builds_router)
    app.include_router(reports_router)
    _add_health_routes(app)
    add_metrics_route(app)
    add_pages(app)

    # Starlette runs the last added outermost.
    app.add_middleware(Idempotency, settings=settings)
    app.add_middleware(BodyLimits, settings=settings)
    app.add_middleware(RefuseUnreadableText)
    # Outside every middleware that reads a body or replays an answer.
    app.add_middleware(Authenticate)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestContext)
    _add_problem_schema(app)
    return app


def _add_health_routes(app: FastAPI) -> None:
    @app.get(
        "/healthz", operation_id="healthz", summary="The process is alive", tags=["operations"]
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        operation_id="readyz",
        summary="The database is reachable and migrated to head",
        tags=["operations"],
        responses={
            503: {
                "description": "Not ready (`not_ready`)",
                "content": {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
                at_head = await session.run_sync(
                    lambda s: schema_migrations.is_at_head(s.connection())
                )
        except Exception:
            return _not_ready(request, "unreachable", "The database is not reachable.", retry=2)
        if not at_head:
            return _not_ready(
                request,
                "not migrated to head",
                "The database schema is not at the migrations' head; run `python -m service "
                "migrate`.",
                retry=10,
            )
        return JSONResponse({"status": "ok", "database": "ok"})


def _not_ready(request: Request, database: str, detail: str, *, retry: int) -> JSONResponse:
    # A problem document like every other error, still saying what the database is.
    return problem_response(
        request,
        status=503,
        code="not_ready",
        title="Not ready",
        detail=detail,
        headers={"Retry-After": str(retry)},
        database=database,
    )


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any string up to 255 characters. A retry with the same key and body gets the "
    "first answer again without a second effect; with another body, 422; while the first is "
    "still running, 409. Kept at least 24 hours, per API key.",
    "schema": {"type": "string", "maxLength": 255},
}


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# What the middleware and the database may answer on any operation, beside what its route lists:
# on every authenticated one; on every POST and PATCH, whose bodies BodyLimits checks (JSON
# ones also for invalid_json; `:import` takes files); and on every POST (the Idempotency-Key).
ANY_OPERATION: tuple[type[ServiceError], ...] = (NulCharacter, InvalidEncoding, DatabaseUnavailable)
WITH_A_BODY: tuple[type[ServiceError], ...] = (PayloadTooLarge, UnsupportedMediaType)
ON_POST: tuple[type[ServiceError], ...] = (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# The response headers the service sets, declared once and referred to where they are sent.
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own X-Request-ID when it is sane, else a "
        "new one. Logs carry it; quote it when reporting a problem.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The version of the record in this answer; send it as If-Match to "
        "change or delete the record.",
        "schema": {"type": "string"},
        "example": '"3"',
    },
    "Location": {
        "description": "Where the record just created is read.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first answer to the same Idempotency-Key "
        "and body, given again; absent on a first answer.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _document_problems(document: dict[str, Any]) -> None:
    """Document 422 as the problem document it is, the Idempotency-Key of every POST, and the
    problems any operation may answer (ANY_OPERATION, WITH_A_BODY, ON_POST)."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            response = responses.get("422")
            if response is not None:
                response["content"] = PROBLEM_CONTENT
                if response.get("description") == "Validation Error":
                    response["description"] = "Request failed validation (`validation_failed`)"
            if not operation.get("security"):
                continue  # /healthz, /readyz, /metrics: no key, no body, their own answers
            errors = list(ANY_OPERATION)
            if method in ("post", "patch", "put"):
                errors += WITH_A_BODY
                if not path.endswith(":import"):
                    errors.append(InvalidJson)
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
                errors += ON_POST
            labels = [(422, "Request failed validation (`validation_failed`)")]
            labels += [(e.status, f"{e.title} (`{e.code}`)") for e in errors]
            for status, label in labels:
                entry = responses.setdefault(str(status), {"description": label})
                if label not in entry["description"]:
                    entry["description"] = f"{entry['description'].rstrip('.')}; {label}"
                entry["content"] = PROBLEM_CONTENT
            operation["responses"] = dict(sorted(responses.items()))
    _document_headers(document)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _document_headers(document: dict[str, Any]) -> None:
    """Every response carries X-Request-ID; 429 and 503 Retry-After; an answer holding a
    versioned record its ETag; a 201 holding a new record its Location; any 2xx to a POST may be
    an idempotent replay."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    document["components"]["headers"] = RESPONSE_HEADERS
    # A draft schedule has no version: its ETag is the id of the build that made it.
    etag_of_a_build = {"buildSchedule", "publishSchedule"}

    def fields(response: dict[str, Any]) -> dict[str, Any]:
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        return dict(schemas.get(name, {}).get("properties", {}))

    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                names = ["X-Request-ID"]
                if status in ("429", "503"):
                    names.append("Retry-After")
                if status.startswith("2"):
                    if "version" in fields(response) or operation["operationId"] in etag_of_a_build:
                        names.append("ETag")
                    if status == "201" and "id" in fields(response):
                        names.append("Location")
                    if method == "post" and operation.get("security"):
                        names.append("Idempotent-Replayed")
                headers = response.setdefault("headers", {})
                for name in names:
                    headers[name] = {"$ref": f"#/components/headers/{name}"}


def openapi_yaml(app: FastAPI) -> str:
    """The contract as committed in openapi.yaml: stable key order, Chinese kept readable."""
    return yaml.dump(
        app.openapi(), Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False, width=100
    )


def _add_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        _document_problems(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
