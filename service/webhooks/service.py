"""The outbox and the subscriptions: emit() owes an event to every subscription that may hear it.

emit() is the public API of every domain that tells partners about a change. It writes in the
caller's transaction, so the notification commits with the change or not at all; delivery.py
sends it later. See docs/webhooks.md for the payload of each event type.
"""

import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from service.auth.service import Principal
from service.config import Settings
from service.errors import NotFound
from service.models import (
    WEBHOOK_EVENT_TYPES,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from service.models.columns import new_id, utcnow
from service.statements import table_of
from service.versions import require_match, stamp_if_changed
from service.webhooks.delivery import resolve_target
from service.webhooks.schemas import WebhookIn, WebhookPatch

SECRET_PREFIX = "whsec_"


_PARTIES: BindParameter[list[uuid.UUID]] = bindparam("parties", expanding=True)
# Built once, on the tables rather than the mapped classes (no objects are loaded): every change
# partners hear of runs them. The door's PostgreSQL write (checkins/service.py, _DOOR_CHECK_IN)
# applies the same audience in SQL, within its one statement: change both together.
_SUBSCRIPTIONS = table_of(WebhookSubscription)
_AUDIENCE = select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_types).where(
    or_(
        _SUBSCRIPTIONS.c.committee_id.is_(None) & _SUBSCRIPTIONS.c.organization_id.is_(None),
        _SUBSCRIPTIONS.c.committee_id.in_(_PARTIES),
        _SUBSCRIPTIONS.c.organization_id.in_(_PARTIES),
    )
)
_OUTBOX = insert(table_of(OutboxEvent))
_DELIVERIES = insert(table_of(WebhookDelivery))


async def emit(
    session: AsyncSession,
    *,
    type: str,  # noqa: A002  (the event's own field name, as subscribers see it)
    data: dict[str, Any],
    parties: Iterable[uuid.UUID] = (),
) -> uuid.UUID:
    """Record an event in the caller's transaction; returns its stable id (the Webhook-Id).

    Subscriptions made with an admin key hear of every event of their types; a partner's
    subscription only of events whose `parties` include its committee or organization.
    """
    if type not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}")
    # The caller's rows are written before the outbox's, and a flush error surfaces here as before.
    await session.flush()
    now = utcnow()
    event_id = new_id()
    await session.execute(
        _OUTBOX,
        {"id": event_id, "type": type, "payload": to_jsonable_python(data), "created_at": now},
    )
    subscriptions = await session.execute(_AUDIENCE, {"parties": list(set(parties))})
    owed = [
        {
            "subscription_id": subscription_id,
            "event_id": event_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for subscription_id, event_types in subscriptions
        if type in event_types
    ]
    if owed:
        await session.execute(_DELIVERIES, owed)
    return event_id


def _visible(principal: Principal) -> list[ColumnElement[bool]]:
    """Admins see every subscription; a partner those of its own party."""
    if principal.is_admin:
        return []
    if principal.committee_id is not None:
        return [WebhookSubscription.committee_id == principal.committee_id]
    if principal.organization_id is not None:
        return [WebhookSubscription.organization_id == principal.organization_id]
    return [false()]


async def create_subscription(
    session: AsyncSession, *, principal: Principal, data: WebhookIn, settings: Settings
) -> tuple[WebhookSubscription, str]:
    """A new subscription for the caller's party (none for an admin) and its signing secret."""
    await resolve_target(data.url, allow_private=settings.webhook_allow_private_networks)
    secret = data.secret or SECRET_PREFIX + secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        url=data.url,
        event_types=list(data.event_types),
        description=data.description,
        secret=secret,
        committee_id=None if principal.is_admin else principal.committee_id,
        organization_id=None if principal.is_admin else principal.organization_id,
        created_by_key_id=principal.key_id,
    )
    session.add(subscription)
    await session.flush()
    return subscription, secret


async def get_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, lock: bool = False
) -> WebhookSubscription:
    """One subscription the caller may see; 404 for another party's, as for none."""
    stmt = select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id, *_visible(principal)
    )
    subscription = await session.scalar(stmt.with_for_update() if lock else stmt)
    if subscription is None:
        raise NotFound(f"No webhook subscription has id {subscription_id}.")
    return subscription


def list_subscriptions(principal: Principal) -> Select[WebhookSubscription]:
    """The statement a page of the caller's subscriptions is read from."""
    return select(WebhookSubscription).where(*_visible(principal))


async def update_subscription(
    session: AsyncSession,
    *,
    principal: Principal,
    subscription_id: uuid.UUID,
    patch: WebhookPatch,
    if_match: str | None,
    settings: Settings,
) -> WebhookSubscription:
    """Change the URL, event types or description, against the version the client read."""
    subscription = await get_subscription(
        session, principal=principal, subscription_id=subscription_id, lock=True
    )
    require_match(if_match, version=subscription.version)
    if patch.url is not None:
        await resolve_target(patch.url, allow_private=settings.webhook_allow_private_networks)
        subscription.url = patch.url
    if patch.event_types is not None:
        subscription.event_types = list(patch.event_types)
    if patch.description is not None:
        subscription.description = patch.description
    stamp_if_changed(session, subscription)
    await session.flush()
    return subscription


async def delete_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, if_match: str | None
) -> None:
    """Remove a subscription with its deliveries; pending ones are not sent."""
    subscription = await get_subscription(
        session, principal=principal, subscription_id=subscription_id, lock=True
    )
    require_match(if_match, version=subscription.version)
    await session.delete(subscription)
    await session.flush()


async def list_deliveries(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> Select[WebhookDelivery]:
    """The statement a page of one visible subscription's deliveries is read from."""
    await get_subscription(session, principal=principal, subscription_id=subscription_id)
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .options(selectinload(WebhookDelivery.event), selectinload(WebhookDelivery.attempt_log))
    )


async def purge_finished(session: AsyncSession, *, older_than: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` events emitted before `older_than` that no delivery still owes.

    Returns how many went; their deliveries and attempts go with them (the foreign keys
    cascade). Callers repeat it in short transactions so a backlog never holds the database.
    """
    pending = exists().where(
        WebhookDelivery.event_id == OutboxEvent.id, WebhookDelivery.status == "pending"
    )
    batch = select(OutboxEvent.id).where(OutboxEvent.created_at < older_than, ~pending).limit(limit)
    result = await session.execute(
        delete(OutboxEvent)
        .where(OutboxEvent.id.in_(batch))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
