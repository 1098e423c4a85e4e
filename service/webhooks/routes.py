"""Webhook subscriptions over HTTP, and the log of their deliveries."""

import uuid

from fastapi import APIRouter, Request, Response, status

from service.auth.dependencies import PartnerKey
from service.db import SessionDep
from service.errors import NotFound, PreconditionFailed, PreconditionRequired, problem_responses
from service.idempotency import SecretShownOnce, answer_holds_secret
from service.models import WebhookDelivery, WebhookSubscription
from service.pagination import DEFAULT_LIMIT, InvalidCursor, page_of
from service.schemas import Limit, Page
from service.versions import IfMatch, etag
from service.webhooks import service
from service.webhooks.delivery import UnsafeWebhookUrl
from service.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])


def webhook_out(subscription: WebhookSubscription) -> WebhookOut:
    """A subscription as the API shows it: never its secret."""
    return WebhookOut(
        id=subscription.id,
        url=subscription.url,
        event_types=subscription.event_types,
        description=subscription.description,
        committee_id=subscription.committee_id,
        organization_id=subscription.organization_id,
        version=subscription.version,
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    """A delivery with every attempt made so far."""
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event.type,
        status=delivery.status,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        attempts=[
            AttemptOut(
                number=a.number,
                at=a.created_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in delivery.attempt_log
        ],
    )


@router.get(
    "/webhooks",
    operation_id="listWebhooks",
    summary="List webhook subscriptions (a partner sees its own party's)",
    responses=problem_responses(InvalidCursor),
)
async def list_webhooks(
    principal: PartnerKey,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[WebhookOut]:
    stmt = service.list_subscriptions(principal)
    return await page_of(
        session, stmt, WebhookSubscription, webhook_out, limit=limit, cursor=cursor
    )


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    operation_id="createWebhook",
    summary="Subscribe an endpoint to events; the answer shows the signing secret once",
    responses=problem_responses(UnsafeWebhookUrl, SecretShownOnce),
)
async def create_webhook(
    body: WebhookIn,
    principal: PartnerKey,
    session: SessionDep,
    request: Request,
    response: Response,
) -> WebhookCreated:
    subscription, secret = await service.create_subscription(
        session, principal=principal, data=body, settings=request.app.state.settings
    )
    response.headers["Location"] = f"/v1/webhooks/{subscription.id}"
    response.headers["ETag"] = etag(subscription.version)
    answer_holds_secret(request)
    return WebhookCreated(**webhook_out(subscription).model_dump(), secret=secret)


@router.get(
    "/webhooks/{webhook_id}",
    operation_id="getWebhook",
    summary="Read a webhook subscription",
    responses=problem_responses(NotFound),
)
async def get_webhook(
    webhook_id: uuid.UUID, principal: PartnerKey, session: SessionDep, response: Response
) -> WebhookOut:
    subscription = await service.get_subscription(
        session, principal=principal, subscription_id=webhook_id
    )
    response.headers["ETag"] = etag(subscription.version)
    return webhook_out(subscription)


@router.patch(
    "/webhooks/{webhook_id}",
    operation_id="updateWebhook",
    summary="Change a subscription's URL, event types or description (If-Match required)",
    responses=problem_responses(
        NotFound, UnsafeWebhookUrl, PreconditionFailed, PreconditionRequired
    ),
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookPatch,
    principal: PartnerKey,
    session: SessionDep,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookOut:
    subscription = await service.update_subscription(
        session,
        principal=principal,
        subscription_id=webhook_id,
        patch=body,
        if_match=if_match,
        settings=request.app.state.settings,
    )
    response.headers["ETag"] = etag(subscription.version)
    return webhook_out(subscription)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteWebhook",
    summary="Unsubscribe; pending deliveries are dropped (If-Match required)",
    responses=problem_responses(NotFound, PreconditionFailed, PreconditionRequired),
)
async def delete_webhook(
    webhook_id: uuid.UUID, principal: PartnerKey, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_subscription(
        session, principal=principal, subscription_id=webhook_id, if_match=if_match
    )


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="Every event owed to a subscription, with each delivery attempt",
    responses=problem_responses(NotFound, InvalidCursor),
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    principal: PartnerKey,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[DeliveryOut]:
    stmt = await service.list_deliveries(session, principal=principal, subscription_id=webhook_id)
    return await page_of(session, stmt, WebhookDelivery, delivery_out, limit=limit, cursor=cursor)
