"""Every route in the app's route table has a rule, and every role meets it."""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.app import create_app
from service.auth.dependencies import RoleGate
from tests.support import KeyFactory

PUBLIC = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
ROLES = ("admin", "partner", "kiosk", "table_host")


def _gate(dependant: Any) -> RoleGate | None:
    if isinstance(dependant.call, RoleGate):
        return dependant.call
    for sub in dependant.dependencies:
        found = _gate(sub)
        if found is not None:
            return found
    return None


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (which FastAPI keeps as branches)."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found.extend(api_routes(included.routes))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def _rules(app: FastAPI) -> list[tuple[str, str, frozenset[str]]]:
    rules = []
    for route in api_routes(app.routes):
        if route.path in PUBLIC:
            continue
        gate = _gate(route.dependant)
        assert gate is not None, (
            f"{route.path} has no RoleGate: every route must declare who may call it"
        )
        for method in route.methods:
            rules.append((method, route.path, gate.roles))
    return rules


def test_every_non_public_route_declares_a_rule() -> None:
    rules = _rules(create_app())
    assert len(rules) >= 15
    public = {r.path for r in create_app().routes if getattr(r, "path", None) in PUBLIC}
    assert {"/healthz", "/readyz", "/docs", "/openapi.json"} <= public


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_against_every_route(
    role: str, app: FastAPI, client: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    admin = await make_key("admin")
    committee = (await client.get("/v1/committees", headers=admin)).json()["items"][0]
    # A table host's key is bound to an event that exists; the paths below name others.
    event = (await client.get("/v1/events", headers=admin)).json()["items"][0]
    binding = {
        "partner": {"committee_id": committee["id"]},
        "table_host": {"event_id": event["id"]},
    }.get(role, {})
    headers = await make_key(role, **binding)
    checked = 0
    for method, path, roles in _rules(app):
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        request_headers = {**headers, "If-Match": '"1"'}
        if path.endswith(":import"):
            request_headers["Content-Type"] = "text/csv"
            response = await client.request(method, url, headers=request_headers, content=b"a\n")
        else:
            response = await client.request(method, url, headers=request_headers, json={})
        is_problem = response.headers.get("content-type") == "application/problem+json"
        body = response.json() if is_problem else {}
        if role in roles:
            assert response.status_code != 401, f"{role} {method} {path}"
            assert body.get("code") != "forbidden", f"{role} may {method} {path} but got {body}"
        else:
            assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
            assert body["code"] == "forbidden"
            assert response.headers["content-type"] == "application/problem+json"
        checked += 1
    assert checked >= 15


async def test_no_key_and_unknown_key_are_401_with_bearer_challenge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    for method, path, _ in _rules(app):
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for headers in (
            {},
            {"Authorization": "Bearer smk_not_a_key"},
            {"Authorization": "Basic eDp5"},
        ):
            response = await client.request(method, url, headers=headers)
            assert response.status_code == 401, f"{method} {path} {headers}"
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["code"] == "unauthorized"


async def test_public_routes_need_no_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
