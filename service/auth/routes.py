"""API keys over HTTP: admins list, create and revoke them; every key may ask who it is."""

import uuid
from functools import partial

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from service.auth import service
from service.auth.dependencies import AdminKey, AnyKey
from service.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, KeyEvent, KeyParty, Me
from service.db import SessionDep
from service.errors import NotFound, problem_responses
from service.idempotency import SecretShownOnce, answer_holds_secret
from service.models import ApiKey, Event
from service.pagination import DEFAULT_LIMIT, page_of
from service.schemas import Limit, Page

router = APIRouter(prefix="/v1", tags=["api keys"])


@router.get(
    "/api-keys",
    operation_id="listApiKeys",
    summary="List API keys (without secrets)",
    responses=problem_responses(),
)
async def list_api_keys(
    _: AdminKey, session: SessionDep, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[ApiKeyOut]:
    render = partial(ApiKeyOut.model_validate, from_attributes=True)
    return await page_of(session, select(ApiKey), ApiKey, render, limit=limit, cursor=cursor)


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    operation_id="createApiKey",
    summary="Create an API key; the secret is shown only in this answer",
    responses=problem_responses(
        service.PartyRequired,
        service.PermissionsForKiosksOnly,
        service.EventRequired,
        service.EventBindingRefused,
        service.UnknownEvent,
        SecretShownOnce,
    ),
)
async def create_api_key(
    body: ApiKeyCreate, _: AdminKey, session: SessionDep, request: Request, response: Response
) -> ApiKeyCreated:
    key, secret = await service.create_api_key(session, **body.model_dump())
    answer_holds_secret(request)
    response.headers["Location"] = f"/v1/api-keys/{key.id}"
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(key, from_attributes=True).model_dump(), "secret": secret}
    )


@router.get(
    "/api-keys/{key_id}",
    operation_id="getApiKey",
    summary="Read an API key (without its secret)",
    responses=problem_responses(NotFound),
)
async def get_api_key(key_id: uuid.UUID, _: AdminKey, session: SessionDep) -> ApiKeyOut:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key has id {key_id}.")
    return ApiKeyOut.model_validate(key, from_attributes=True)


@router.delete(
    "/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revokeApiKey",
    summary="Revoke an API key; it stops working at once in every worker",
    responses=problem_responses(NotFound),
)
async def revoke_api_key(key_id: uuid.UUID, _: AdminKey, session: SessionDep) -> None:
    await service.revoke_api_key(session, key_id=key_id)


@router.get(
    "/me",
    operation_id="getMe",
    summary="The calling key: its role, name, and the event or party it is bound to",
    responses=problem_responses(),
)
async def get_me(principal: AnyKey, session: SessionDep) -> Me:
    # A kiosk signed in with a bare key learns here which event to open, and the event's name
    # and time zone (the events themselves are not a kiosk key's to read).
    event = None
    if principal.event_id is not None:
        found = await session.get(Event, principal.event_id)
        if found is not None:
            event = KeyEvent.model_validate(found, from_attributes=True)
    party = None
    if principal.committee_id is not None:
        party = KeyParty(kind="committee", id=principal.committee_id)
    elif principal.organization_id is not None:
        party = KeyParty(kind="organization", id=principal.organization_id)
    return Me(
        key_id=principal.key_id,
        role=principal.role,
        name=principal.name,
        event_id=principal.event_id,
        event=event,
        party=party,
        permissions=sorted(principal.permissions),
    )
