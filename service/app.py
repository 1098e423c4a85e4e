"""create_app(): lifespan, middleware, routers, error handlers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
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
    install_error_handlers,
    problem_response,
)
from service.events.routes import router as events_router
from service.idempotency import (
    Idempotency,
    finish_pending_stores,
)
from service.jobs.dispatch import schedule_builds
from service.logs import configure_logging
from service.matching.routes import router as matching_router
from service.meetings.routes import router as meetings_router
from service.metrics import add_metrics_route, route_templates
from service.middleware import BodyLimits, RefuseUnreadableText, RequestContext
from service.openapi import document_openapi
from service.participants.routes import router as participants_router
from service.rate_limits import create_rate_limiter
from service.reports.routes import router as reports_router
from service.schedules.routes import router as schedules_router
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


# The routers in the order the contract (openapi.yaml) lists their paths: a tour of the service,
# from keys and the directory to the event day and its reports.
DOCUMENTED = (
    api_keys_router,
    directory_router,
    agreements_router,
    webhooks_router,
    matching_router,
    events_router,
    participants_router,
    checkins_router,
    meetings_router,
    schedules_router,
    builds_router,
    reports_router,
)


def create_app(
    settings: Settings | None = None, *, engine: AsyncEngine | None = None, bind: Any = None
) -> FastAPI:
    """The application; tests may hand in an engine, or a connection to bind sessions to.

    The connection is kept as `app.state.bind` and read at each start, so a test's app can be
    started again on the next test's connection."""
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bind = app.state.bind
        # Read afresh in each life: the taxonomy kept from an earlier one may be another's.
        app.state.taxonomy = None
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
    app.state.bind = bind
    install_error_handlers(app)
    # A request is matched against the routes in turn (about 2 µs a route with FastAPI 0.165,
    # some 60 of them: /healthz, tried last, costs 0.24 ms of CPU against 0.06 ms tried first):
    # the busiest come first, the door's check-in, then partners' reads. The contract keeps its
    # own order, DOCUMENTED.
    busiest = (checkins_router, directory_router, matching_router)
    for router in busiest + tuple(r for r in DOCUMENTED if r not in busiest):
        app.include_router(router)
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
    app.add_middleware(RequestContext)
    documented = [route for router in DOCUMENTED for route in router.routes]
    app.state.route_templates = route_templates([*documented, *app.router.routes])
    document_openapi(app, order=[route.path for route in documented if isinstance(route, APIRoute)])
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
