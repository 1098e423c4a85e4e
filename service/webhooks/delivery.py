"""Getting webhooks out: the address guard, signing, one delivery pass, the background worker.

Deliveries are at least once. A pass claims due rows by pushing their next attempt past a lease
(`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers on several machines never claim
the same row; SQLite serializes writers), sends outside any transaction, then records the
outcome. A worker that dies mid-send leaves its lease to expire, and the row is sent again.
"""

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.errors import Unprocessable, is_database_unavailable
from service.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from service.models.columns import utcnow

log = logging.getLogger("service.webhooks")

USER_AGENT = "StandardsMatchmaking-Webhooks/1"
# The lease outlasts the request timeout by this much, so a slow send is not claimed twice.
LEASE_MARGIN_S = 30.0
JITTER = 0.2
NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhookUrl(Unprocessable):
    code, title = "unsafe_webhook_url", "Webhook URL is not allowed"


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public_address(ip: IPAddress) -> bool:
    """Whether an address is on the public internet, also behind an IPv6 embedding."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None and not is_public_address(embedded):
        return False
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL with its host replaced by a vetted address, and how to say so."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any] = field(default_factory=dict)


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeWebhookUrl("The URL cannot be parsed.") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnsafeWebhookUrl("Only http and https URLs can receive webhooks.")
    if not parsed.host:
        raise UnsafeWebhookUrl("The URL has no host.")
    if parsed.userinfo:
        raise UnsafeWebhookUrl("The URL must not carry credentials; sign with the secret instead.")
    return parsed


async def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host and refuse non-public destinations unless the operator allows them.

    The request then goes to the address checked here, so a DNS answer that changes between the
    check and the connection (rebinding) cannot redirect it.
    """
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"The host {host} does not resolve.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeWebhookUrl(f"The host {host} does not resolve.")
    if not allow_private:
        refused = sorted({str(a) for a in addresses if not is_public_address(a)})
        if refused:
            raise UnsafeWebhookUrl(
                f"The host {host} resolves to a loopback, private, link-local or otherwise "
                f"non-public address ({', '.join(refused)}). An operator who means to deliver "
                "inside its own network sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=true.",
                setting="WEBHOOK_ALLOW_PRIVATE_NETWORKS",
                errors=[{"field": "url", "message": "destination is not a public address"}],
            )
    pinned = parsed.copy_with(host=str(addresses[0]))
    extensions: dict[str, Any] = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return Target(pinned, {"Host": parsed.netloc.decode("ascii")}, extensions)


def sign(secret: str, *, timestamp: str, body: bytes) -> str:
    """The Webhook-Signature value: HMAC-SHA256 over `{timestamp}.{body}`, hex, versioned."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def event_body(event: OutboxEvent) -> bytes:
    """The JSON a subscriber receives; the same bytes on every retry."""
    envelope = {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempt: int, settings: Settings) -> float:
    """Seconds before the retry that follows failed attempt number `attempt` (1-based)."""
    delay = settings.webhook_backoff_base_seconds * float(2 ** min(attempt - 1, 30))
    return min(settings.webhook_backoff_max_seconds, delay * (1 + JITTER * random.random()))


def new_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries use: no redirects and no proxies from the environment."""
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
    )


@dataclass(frozen=True)
class _Claim:
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    number: int
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime
) -> list[_Claim]:
    async with sessionmaker.begin() as session:
        ids = list(
            (
                await session.scalars(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.status == "pending")
                    .where(WebhookDelivery.next_attempt_at <= now)
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(settings.webhook_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        if not ids:
            return []
        lease = timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_S)
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=now + lease, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        rows = await session.execute(
            select(WebhookDelivery, OutboxEvent, WebhookSubscription)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.id.in_(ids))
        )
        return [
            _Claim(
                delivery_id=delivery.id,
                event_id=event.id,
                number=delivery.attempts + 1,
                url=subscription.url,
                secret=subscription.secret,
                body=event_body(event),
            )
            for delivery, event, subscription in rows.all()
        ]


async def _send(client: httpx.AsyncClient, claim: _Claim, settings: Settings) -> _Outcome:
    started = time.monotonic()

    def outcome(status_code: int | None, error: str | None) -> _Outcome:
        return _Outcome(status_code, error, int((time.monotonic() - started) * 1000))

    try:
        # Checked again at every attempt: the name may point elsewhere since it was subscribed.
        target = await resolve_target(
            claim.url, allow_private=settings.webhook_allow_private_networks
        )
    except UnsafeWebhookUrl as exc:
        return outcome(None, f"refused: {exc.detail}"[:500])
    timestamp = str(int(time.time()))
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": str(claim.event_id),
        "Webhook-Timestamp": timestamp,
        "Webhook-Signature": sign(claim.secret, timestamp=timestamp, body=claim.body),
    }
    try:
        # Streamed and not read: the receiver's answer body is of no use and may be huge.
        async with client.stream(
            "POST", target.url, content=claim.body, headers=headers, extensions=target.extensions
        ) as response:
            return outcome(response.status_code, None)
    except httpx.TimeoutException:
        return outcome(None, "timed out")
    except httpx.HTTPError as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}"[:500])


async def _record(
    session: AsyncSession, claim: _Claim, result: _Outcome, *, settings: Settings
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=claim.delivery_id,
            number=claim.number,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
    )
    now = utcnow()
    values: dict[str, Any] = {"attempts": claim.number, "updated_at": now}
    if result.ok:
        values |= {"status": "delivered", "delivered_at": now}
    elif claim.number >= settings.webhook_max_attempts:
        values |= {"status": "failed"}
    else:
        values |= {"next_attempt_at": now + timedelta(seconds=backoff(claim.number, settings))}
    # Only a pending row moves: a second sender whose lease had expired changes nothing more.
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == claim.delivery_id, WebhookDelivery.status == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    log.info(
        "webhook attempt %s of delivery %s: %s",
        claim.number,
        claim.delivery_id,
        result.status_code or result.error,
    )


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    now: datetime | None = None,
    client: httpx.AsyncClient | None = None,
) -> int:
    """Make one attempt at every delivery due by `now`; returns how many were attempted."""
    claims = await _claim(sessionmaker, settings=settings, now=now or utcnow())
    if not claims:
        return 0
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(new_client(settings))
        results = await asyncio.gather(*(_send(client, c, settings) for c in claims))
    async with sessionmaker.begin() as session:
        for claim, result in zip(claims, results, strict=True):
            await _record(session, claim, result, settings=settings)
    return len(claims)


class DeliveryWorker:
    """The background task that runs delivery passes until the app stops."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, settings: Settings
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._database_away = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def _run(self) -> None:
        async with new_client(self.settings) as client:
            while not self._stopping.is_set():
                try:
                    made = await deliver_due(
                        self.sessionmaker, settings=self.settings, client=client
                    )
                except Exception as exc:
                    self._failed(exc)
                    made = 0
                else:
                    if self._database_away:
                        self._database_away = False
                        log.warning("webhook delivery resumed: the database is back")
                if made < self.settings.webhook_batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._stopping.wait(), self.settings.webhook_poll_seconds
                        )

    def _failed(self, exc: Exception) -> None:
        # An outage is said once, not with a traceback every poll; anything else is a bug.
        if not is_database_unavailable(exc):
            log.exception("webhook delivery pass failed")
        elif not self._database_away:
            self._database_away = True
            log.warning("webhook delivery paused: the database is unavailable (%s)", exc)

    async def stop(self) -> None:
        """Let the pass in flight finish (its sends are bounded by the timeout), then end."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(
                asyncio.shield(self._task), self.settings.webhook_timeout_seconds + 5
            )
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
