"""Webhook delivery against a real receiver: signing, retries, give-up, rollback, restart."""

import asyncio
import hashlib
import hmac
import ipaddress
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.agreements.schemas import IntentIn
from service.agreements.service import create_intent
from service.app import create_app
from service.auth.service import Principal
from service.config import Settings
from service.db import Base
from service.directory.taxonomy import load_taxonomy
from service.models import ApiKey, OutboxEvent, WebhookDelivery
from service.models.columns import utcnow
from service.webhooks.delivery import backoff, deliver_due, is_public_address
from tests.support import Headers, KeyFactory, key_in
from tests.webhooks.conftest import Receiver

SECRET = "whsec_test-secret-0123456789"


async def subscribe(
    client: httpx.AsyncClient, headers: Headers, url: str, *types: str
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": list(types or ["intent.created"]), "secret": SECRET},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def new_intent(client: httpx.AsyncClient, headers: Headers, **ids: str) -> dict[str, Any]:
    if not ids:
        committee = (await client.get("/v1/committees?q=ISO/TC 299", headers=headers)).json()
        organization = (await client.get("/v1/organizations?limit=1", headers=headers)).json()
        ids = {
            "committee_id": committee["items"][0]["id"],
            "organization_id": organization["items"][0]["id"],
        }
    response = await client.post(
        "/v1/intents", json={**ids, "summary": "共同研究", "domains": ["robotics"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def verify(request: Any, secret: str = SECRET) -> dict[str, Any]:
    """What a partner does: check the signature and the timestamp, then trust the body."""
    timestamp = request.headers["webhook-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert hmac.compare_digest(request.headers["webhook-signature"], "v1=" + expected.hexdigest())
    assert abs(time.time() - int(timestamp)) < 300
    return dict(json.loads(request.body))


async def deliveries(
    client: httpx.AsyncClient, headers: Headers, webhook: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_change_is_delivered_signed_with_a_stable_event_id(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    admin: Headers,
    receiver: Receiver,
) -> None:
    webhook = await subscribe(
        hook_client, admin, receiver.url, "intent.created", "intent.state_changed"
    )
    intent = await new_intent(hook_client, admin)
    moved = await hook_client.post(
        f"/v1/intents/{intent['id']}:transition",
        json={"to": "confirmed", "note": "现场确认"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 200

    assert await deliver_due(hook_app.state.sessionmaker, settings=hook_settings) == 2
    assert len(receiver.requests) == 2
    bodies = sorted((verify(r) for r in receiver.requests), key=lambda b: b["type"])
    created, changed = bodies
    assert created["type"] == "intent.created"
    assert created["data"]["id"] == intent["id"]
    assert created["data"]["domains"] == ["robotics"]
    assert "committee_contact" not in created["data"]
    assert changed["type"] == "intent.state_changed"
    assert (changed["data"]["from_state"], changed["data"]["to_state"]) == ("proposed", "confirmed")
    assert changed["data"]["intent"]["state"] == "confirmed"
    for request in receiver.requests:
        assert request.method == "POST" and request.path == "/hooks"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"] == json.loads(request.body)["id"]

    log = await deliveries(hook_client, admin, webhook)
    assert {d["status"] for d in log} == {"delivered"}
    assert {d["event_id"] for d in log} == {b["id"] for b in bodies}
    assert all(len(d["attempts"]) == 1 and d["attempts"][0]["status_code"] == 200 for d in log)
    # Nothing is sent twice once delivered.
    assert await deliver_due(hook_app.state.sessionmaker, settings=hook_settings) == 0


async def test_a_failing_receiver_is_retried_with_backoff_until_it_recovers(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    admin: Headers,
    receiver: Receiver,
) -> None:
    receiver.fail_first = 2
    webhook = await subscribe(hook_client, admin, receiver.url)
    await new_intent(hook_client, admin)
    maker = hook_app.state.sessionmaker

    before = utcnow()
    assert await deliver_due(maker, settings=hook_settings) == 1
    [pending] = await deliveries(hook_client, admin, webhook)
    assert pending["status"] == "pending"
    assert pending["attempts"][0]["status_code"] == 503
    wait = (datetime.fromisoformat(pending["next_attempt_at"]) - before).total_seconds()
    base = hook_settings.webhook_backoff_base_seconds
    assert base <= wait <= base * 1.2 + 1

    # Not due yet: nothing is sent.
    assert await deliver_due(maker, settings=hook_settings) == 0
    later = utcnow() + timedelta(hours=2)
    assert await deliver_due(maker, settings=hook_settings, now=later) == 1
    assert await deliver_due(maker, settings=hook_settings, now=later + timedelta(hours=2)) == 1

    [delivered] = await deliveries(hook_client, admin, webhook)
    assert delivered["status"] == "delivered"
    assert [a["status_code"] for a in delivered["attempts"]] == [503, 503, 200]
    assert [a["number"] for a in delivered["attempts"]] == [1, 2, 3]
    # The same event, byte for byte, under the same id: the receiver can de-duplicate.
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    for request in receiver.requests:
        verify(request)


async def test_delivery_gives_up_after_the_last_attempt(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    admin: Headers,
    receiver: Receiver,
) -> None:
    receiver.fail_first = 100
    webhook = await subscribe(hook_client, admin, receiver.url)
    await new_intent(hook_client, admin)
    now = utcnow()
    for attempt in range(1, 5):
        made = await deliver_due(
            hook_app.state.sessionmaker, settings=hook_settings, now=now + timedelta(days=attempt)
        )
        assert made == (1 if attempt <= hook_settings.webhook_max_attempts else 0)
    [failed] = await deliveries(hook_client, admin, webhook)
    assert failed["status"] == "failed"
    assert failed["next_attempt_at"] is None
    assert len(failed["attempts"]) == hook_settings.webhook_max_attempts == 3


async def test_an_unreachable_receiver_is_recorded_as_an_error(
    hook_app: FastAPI, hook_client: httpx.AsyncClient, hook_settings: Settings, admin: Headers
) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    webhook = await subscribe(hook_client, admin, f"http://127.0.0.1:{port}/gone")
    await new_intent(hook_client, admin)
    assert await deliver_due(hook_app.state.sessionmaker, settings=hook_settings) == 1
    [pending] = await deliveries(hook_client, admin, webhook)
    assert pending["status"] == "pending"
    attempt = pending["attempts"][0]
    assert attempt["status_code"] is None and attempt["error"].startswith("ConnectError")


async def test_no_delivery_for_a_change_that_was_rolled_back(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    admin: Headers,
    receiver: Receiver,
) -> None:
    await subscribe(hook_client, admin, receiver.url)
    intent = await new_intent(hook_client, admin)
    maker = hook_app.state.sessionmaker
    async with maker() as session:
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.role == "admin").limit(1))
    admin_principal = Principal(key_id=key_id, role="admin")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with maker.begin() as session:
            await create_intent(
                session,
                principal=admin_principal,
                taxonomy=await load_taxonomy(session),
                data=IntentIn(
                    committee_id=intent["committee_id"],
                    organization_id=intent["organization_id"],
                    summary="这条意向随事务回滚",
                ),
            )
            assert len((await session.scalars(select(OutboxEvent))).all()) == 2
            raise Boom

    async with maker() as session:
        events = (await session.scalars(select(OutboxEvent))).all()
    assert [e.payload["summary"] for e in events] == ["共同研究"]
    assert await deliver_due(maker, settings=hook_settings) == 1
    assert [verify(r)["data"]["summary"] for r in receiver.requests] == ["共同研究"]


async def test_a_partner_subscription_hears_only_of_its_own_party(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    admin: Headers,
    make_key: KeyFactory,
    receiver: Receiver,
) -> None:
    committees = (await hook_client.get("/v1/committees?limit=2", headers=admin)).json()["items"]
    organization = (await hook_client.get("/v1/organizations?limit=1", headers=admin)).json()
    organization_id = organization["items"][0]["id"]
    ours, theirs = committees[0]["id"], committees[1]["id"]
    partner = await make_key("partner", committee_id=ours)
    webhook = await subscribe(hook_client, partner, receiver.url)
    await new_intent(hook_client, admin, committee_id=theirs, organization_id=organization_id)
    assert await deliveries(hook_client, partner, webhook) == []
    mine = await new_intent(hook_client, admin, committee_id=ours, organization_id=organization_id)
    assert await deliver_due(hook_app.state.sessionmaker, settings=hook_settings) == 1
    assert [verify(r)["data"]["id"] for r in receiver.requests] == [mine["id"]]


async def test_an_address_that_became_private_is_refused_at_delivery(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    hook_settings: Settings,
    admin: Headers,
    receiver: Receiver,
) -> None:
    webhook = await subscribe(hook_client, admin, receiver.url)
    await new_intent(hook_client, admin)
    strict = hook_settings.model_copy(update={"webhook_allow_private_networks": False})
    assert await deliver_due(hook_app.state.sessionmaker, settings=strict) == 1
    assert receiver.requests == []
    [pending] = await deliveries(hook_client, admin, webhook)
    assert pending["attempts"][0]["error"].startswith("refused:")
    assert "127.0.0.1" in pending["attempts"][0]["error"]


def test_backoff_doubles_with_bounded_jitter_up_to_the_cap(settings: Settings) -> None:
    base = settings.webhook_backoff_base_seconds
    for attempt in range(1, 6):
        for _ in range(20):
            delay = backoff(attempt, settings)
            assert base * 2 ** (attempt - 1) <= delay <= base * 2 ** (attempt - 1) * 1.2
    assert backoff(40, settings) == settings.webhook_backoff_max_seconds


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("2002:7f00:1::", False),
    ],
)
def test_only_public_addresses_pass_the_guard(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- delivery after a restart, on a database whose transactions commit ------------------------


@pytest.fixture
async def committed_engine(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    started = utcnow()
    yield engine
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if "created_at" in table.c:
                await connection.execute(delete(table).where(table.c.created_at >= started))


async def test_a_notification_survives_the_process_and_is_sent_after_a_restart(
    committed_engine: AsyncEngine, hook_settings: Settings, receiver: Receiver
) -> None:
    first = create_app(hook_settings, engine=committed_engine)
    async with first.router.lifespan_context(first):
        admin = await key_in(first.state.sessionmaker, "admin")
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            webhook = await subscribe(client, admin, receiver.url)
            intent = await new_intent(client, admin)
    assert receiver.requests == []  # the first process stopped before sending anything

    restarted = create_app(
        hook_settings.model_copy(
            update={"webhook_worker_enabled": True, "webhook_poll_seconds": 0.02}
        ),
        engine=committed_engine,
    )
    async with restarted.router.lifespan_context(restarted):
        for _ in range(500):
            if receiver.requests:
                break
            await asyncio.sleep(0.01)
        assert len(receiver.requests) == 1
        body = verify(receiver.requests[0])
        assert body["type"] == "intent.created" and body["data"]["id"] == intent["id"]
        session: AsyncSession
        for _ in range(500):
            async with restarted.state.sessionmaker() as session:
                delivery = await session.scalar(
                    select(WebhookDelivery).where(
                        WebhookDelivery.subscription_id == uuid.UUID(webhook["id"])
                    )
                )
            if delivery is not None and delivery.status == "delivered":
                break
            await asyncio.sleep(0.01)
        assert delivery is not None and delivery.status == "delivered"
        assert str(delivery.event_id) == receiver.requests[0].headers["webhook-id"]


class _Outage:
    """A sessionmaker whose database is away until `back` is set, as the worker sees it."""

    def __init__(self, real: Any) -> None:
        self.real, self.back, self.passes = real, False, 0
        self.target, self.reached = 0, asyncio.Event()

    async def wait_passes(self, more: int) -> None:
        self.target, self.reached = self.passes + more, asyncio.Event()
        await asyncio.wait_for(self.reached.wait(), 10)

    def begin(self) -> Any:
        self.passes += 1
        if self.passes >= self.target:
            self.reached.set()
        if not self.back:
            raise ConnectionRefusedError("connection refused")
        return self.real.begin()


async def test_the_worker_says_once_that_the_database_is_away_and_once_that_it_is_back(
    committed_engine: AsyncEngine, hook_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from service.db import create_sessionmaker
    from service.webhooks.delivery import DeliveryWorker

    outage = _Outage(create_sessionmaker(committed_engine))
    settings = hook_settings.model_copy(update={"webhook_poll_seconds": 0.01})
    worker = DeliveryWorker(outage, settings=settings)  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="service.webhooks"):
        worker.start()
        await outage.wait_passes(5)
        outage.back = True
        await outage.wait_passes(3)
        await worker.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "service.webhooks"]
    assert [m.split(":")[0] for m in messages] == [
        "webhook delivery paused",
        "webhook delivery resumed",
    ], messages
    assert all(r.exc_info is None for r in caplog.records)


async def test_purge_drops_old_finished_events_with_their_attempts_and_keeps_the_rest(
    session: AsyncSession,
) -> None:
    from service.models import WebhookAttempt, WebhookSubscription
    from service.webhooks.service import purge_finished

    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    hook = WebhookSubscription(
        version=1, url="https://partner.example/hook", event_types=["intent.created"], secret=SECRET
    )
    session.add(hook)
    await session.flush()
    events = {}
    for name, at, status in [
        ("old delivered", old, "delivered"),
        ("old failed", old, "failed"),
        ("old pending", old, "pending"),
        ("recent delivered", recent, "delivered"),
        ("old unheard", old, None),
    ]:
        event = OutboxEvent(type="intent.created", payload={"name": name}, created_at=at)
        session.add(event)
        await session.flush()
        events[name] = event.id
        if status is not None:
            delivery = WebhookDelivery(
                subscription_id=hook.id, event_id=event.id, status=status, next_attempt_at=at
            )
            session.add(delivery)
            await session.flush()
            session.add(WebhookAttempt(delivery_id=delivery.id, number=1, duration_ms=5))
    await session.flush()

    cutoff = now - timedelta(days=30)
    batches = [await purge_finished(session, older_than=cutoff, limit=2) for _ in range(3)]
    assert batches == [2, 1, 0]
    session.expunge_all()
    left = {e.payload["name"] for e in (await session.scalars(select(OutboxEvent))).all()}
    assert left == {"old pending", "recent delivered"}
    deliveries = (await session.scalars(select(WebhookDelivery))).all()
    assert {d.event_id for d in deliveries} == {events["old pending"], events["recent delivered"]}
    attempts = (await session.scalars(select(WebhookAttempt))).all()
    assert {a.delivery_id for a in attempts} == {d.id for d in deliveries}
