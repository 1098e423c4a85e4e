"""The database statements each hot route costs per request, as ceilings.

Counted by `StatementLog` on the real engine (no test transaction, so no savepoints): what
SQLAlchemy executes and, on PostgreSQL, what goes to asyncpg directly; on a warm process, the
key already known and the taxonomy loaded. A change that adds a round trip to one of these
routes fails here; one that saves a round trip lowers its ceiling. SQLite's counts include the
`BEGIN IMMEDIATE` each transaction opens with (PostgreSQL's BEGIN and COMMIT are not counted),
and SQLite alone needs none for the key.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from service.app import create_app
from service.config import Settings
from service.models.columns import utcnow
from tests.support import (
    Headers,
    KeyFactory,
    StatementLog,
    delete_rows_since,
    key_in,
    published_small_event,
    read_demo_event,
)

# Route: (PostgreSQL, SQLite). The check-in is a first one, on an event with no published
# schedule.
CEILINGS = {
    # PostgreSQL, 2: one read (the event, locked against its deletion, with the participant,
    # party, people, their check-ins, the published agenda and the nonce's earlier scan) and
    # one write (the check-in, the scan, the outbox row and its deliveries). SQLite, 8: the
    # event and its participant with party and people, the check-in, the outbox row and the
    # subscriptions it is for, the scan, the arrival times, the published schedule's id.
    "check-in": (2, 8),
    "committee": (1, 2),
    "directory page": (2, 3),
    # 2: the committee with how much of the directory each domain covers (committees' and
    # organizations' links counted: credit by specificity needs it), then the candidates'
    # profiles (with what the answer shows of each). The coverage could be kept per process
    # and refreshed on directory writes, if every worker heard of those writes.
    "recommendations": (2, 4),
    "participant search": (4, 5),
}


@pytest.fixture
async def quiet_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """An app on the real engine whose transactions commit, without the webhook worker: its
    polls would be counted with the request's statements. What it wrote is deleted after."""
    started = utcnow()
    app = create_app(settings.model_copy(update={"webhook_worker_enabled": False}), engine=engine)
    async with app.router.lifespan_context(app):
        yield app
    await delete_rows_since(engine, started)


@pytest.fixture
async def quiet_client(quiet_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=quiet_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def warm(quiet_app: FastAPI, quiet_client: httpx.AsyncClient) -> dict[str, Any]:
    def key(role: str, **binding: Any) -> Any:
        return key_in(quiet_app.state.sessionmaker, role, **binding)

    client = quiet_client
    admin = await key("admin")
    event = await read_demo_event(client, admin)
    participants = (
        await client.get(
            f"/v1/events/{event['id']}/participants", params={"limit": 500}, headers=admin
        )
    ).json()["items"]
    committee = (await client.get("/v1/committees", params={"limit": 1}, headers=admin)).json()[
        "items"
    ][0]
    partner = await key("partner", committee_id=committee["id"])
    kiosk = await key("kiosk")
    for headers in (partner, kiosk):  # known to the process from now on
        await client.get("/v1/domains", headers=headers)
    return {
        "event": event["id"],
        "badge": participants[-1]["badge_code"],
        "committee": committee["id"],
        "partner": partner,
        "kiosk": kiosk,
    }


async def _count(
    statements: StatementLog, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, list[str]]:
    with statements.counting():
        answer = await client.request(method, url, **kwargs)
        await statements.settled()
    return answer, list(statements.statements)


@pytest.mark.parametrize("route", list(CEILINGS))
async def test_hot_routes_stay_within_their_statements(
    route: str,
    warm: dict[str, Any],
    quiet_client: httpx.AsyncClient,
    statements: StatementLog,
    is_postgres: bool,
) -> None:
    partner: Headers = warm["partner"]
    requests = {
        "check-in": (
            "POST",
            f"/v1/events/{warm['event']}/checkins",
            {"json": {"badge_code": warm["badge"]}, "headers": warm["kiosk"]},
            201,
        ),
        "committee": ("GET", f"/v1/committees/{warm['committee']}", {"headers": partner}, 200),
        "directory page": ("GET", "/v1/organizations?limit=50", {"headers": partner}, 200),
        "recommendations": (
            "GET",
            f"/v1/committees/{warm['committee']}/recommendations",
            {"headers": partner},
            200,
        ),
        "participant search": (
            "GET",
            f"/v1/events/{warm['event']}/participants?q=温州",
            {"headers": partner},
            200,
        ),
    }
    method, url, kwargs, status = requests[route]
    answer, executed = await _count(statements, quiet_client, method, url, **kwargs)
    assert answer.status_code == status, answer.text
    ceiling = CEILINGS[route][0 if is_postgres else 1]
    assert len(executed) <= ceiling, f"{len(executed)} statements:\n" + "\n".join(executed)


async def test_an_agenda_reads_its_domains_in_a_statement_a_side(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory, statements: StatementLog
) -> None:
    # The agenda names the domains each meeting's two parties share; reading them per meeting
    # (once per domain, before that) made a long agenda dozens of statements. Now the
    # participant's own and all its counterparts' are read in one statement for each side.
    # Must-meet: whatever these pairs score, the committee has meetings on its agenda.
    event_id, registered = await published_small_event(client, admin)
    committee = registered[0]
    kiosk = await make_key("kiosk")
    await client.get("/v1/domains", headers=admin)  # the taxonomy, read once per process
    with statements.counting():
        answer = await client.post(
            f"/v1/events/{event_id}/checkins",
            json={"badge_code": committee["badge_code"]},
            headers=kiosk,
        )
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["agenda"]) >= 2, "too short an agenda to tell the two apart"
    checkin_lookups = [s for s in statements.statements if "domains.code" in s]
    with statements.counting():
        answer = await client.get(
            f"/v1/events/{event_id}/participants/{committee['id']}/agenda", headers=admin
        )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["meetings"]) >= 2
    agenda_lookups = [s for s in statements.statements if "domains.code" in s]
    for lookups in (checkin_lookups, agenda_lookups):
        assert len(lookups) <= 2, "\n".join(lookups)
