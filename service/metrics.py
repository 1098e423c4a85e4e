"""Prometheus metrics: requests by route and status, latency, database pool use, webhook backlog.

Request counts and latencies are recorded by the RequestContext middleware (count_request).
The pool and the webhook backlog are read when /metrics is scraped, so they are never stale.

With several worker processes, set PROMETHEUS_MULTIPROC_DIR to an empty directory before the
workers start: prometheus_client then keeps each worker's counts in files there and a scrape of
any worker adds them up. Without it (one process) everything lives in memory.
"""

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from starlette.routing import compile_path
from starlette.types import Scope

from service.models import WebhookDelivery

log = logging.getLogger("service.metrics")

# Requests that match no route share one label, so probing random paths cannot grow the series.
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "smk_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "smk_http_request_duration_seconds",
    "Time from receiving a request to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# What SQLAlchemy's queue pools can tell; a pool without one of these (SQLite's may) omits it.
_POOL_FIGURES = {
    "size": "Connections the pool keeps open.",
    "checkedout": "Connections in use by requests or workers now.",
    "checkedin": "Idle connections in the pool now.",
    "overflow": "Connections opened beyond the pool size now.",
}


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answer and its time, labelled by the route template, not the raw path."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def route_templates(routes: Iterable[object]) -> list[tuple[re.Pattern[str], str]]:
    """What `route_template` matches a path against: the documented routes' templates, literal
    paths before those with parameters (/v1/committees:import is not an id), and of those with
    as many, the longer first (/v1/intents/{intent_id}:transition is not an intent's own
    route, though its {intent_id} would match "x:transition"). Read from the route objects when
    the app is made; the OpenAPI document would cost a third of a second of CPU the first time
    a worker refused a request before routing."""
    paths = {
        route.path for route in routes if isinstance(route, APIRoute) and route.include_in_schema
    }
    ordered = sorted(paths, key=lambda path: (path.count("{"), -len(path), path))
    return [(compile_path(path)[0], path) for path in ordered]


def route_template(scope: Scope) -> str:
    """The template of the route a request was for. A request refused before routing (413, 415,
    bad JSON) has no route in its scope yet, so its path is matched against the templates of the
    app's documented routes; one that matches none is `unmatched`."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    app = scope.get("app")
    templates = getattr(getattr(app, "state", None), "route_templates", ())
    for pattern, template in templates:
        if pattern.match(scope["path"]):
            return str(template)
    return UNMATCHED_ROUTE


class _Collected:
    """A one-scrape collector of figures already read."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition_registry() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def pool_figures(engine: Any) -> list[Metric]:
    """The connection pool of this process, as far as the pool reports."""
    pool = getattr(engine, "pool", None)
    families: list[Metric] = []
    for name, description in _POOL_FIGURES.items():
        reader = getattr(pool, name, None)
        if not callable(reader):
            continue
        try:
            value = float(reader())
        except (TypeError, NotImplementedError):
            continue
        if name == "overflow":
            # A queue pool counts its overflow from minus its size (connections not yet opened
            # count against it); what is opened beyond the size is never below zero.
            value = max(value, 0.0)
        family = GaugeMetricFamily(f"smk_db_pool_{name}", description, labels=["pool"])
        family.add_metric([type(pool).__name__], value)
        families.append(family)
    return families


async def webhook_queue_figure(sessionmaker: Any) -> list[Metric]:
    """How many webhook deliveries wait to be sent, across all processes."""
    try:
        async with sessionmaker() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
            )
    except Exception as exc:
        # The scrape still reports the rest; /readyz is what says the database is away.
        log.warning("webhook queue depth unread: %s", type(exc).__name__)
        return []
    family = GaugeMetricFamily(
        "smk_webhook_queue_depth", "Webhook deliveries pending (not yet delivered or given up)."
    )
    family.add_metric([], float(pending or 0))
    return [family]


def add_metrics_route(app: FastAPI) -> None:
    """GET /metrics in the Prometheus text format, public like the health checks."""

    @app.get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
    )
    async def metrics(request: Request) -> Response:
        state = request.app.state
        read_now = pool_figures(state.engine) + await webhook_queue_figure(state.sessionmaker)
        body = generate_latest(exposition_registry()) + generate_latest(_Collected(read_now))
        return Response(body, media_type=CONTENT_TYPE_LATEST)
