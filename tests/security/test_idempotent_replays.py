"""An Idempotency-Key replay comes after authentication, and never hands out a secret."""

from collections.abc import AsyncIterator

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import IdempotencyRecord
from tests.support import EVENT, Headers

WEBHOOK = {"url": "https://93.184.216.34/hooks/crm", "event_types": ["intent.created"]}


async def _new_admin(client: httpx.AsyncClient, admin: Headers) -> tuple[str, Headers]:
    made = await client.post("/v1/api-keys", json={"name": "ops", "role": "admin"}, headers=admin)
    assert made.status_code == 201, made.text
    return made.json()["id"], {"Authorization": f"Bearer {made.json()['secret']}"}


async def test_a_revoked_key_repeating_a_post_gets_401_not_the_stored_answer(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    key_id, ops = await _new_admin(client, admin)
    retried = {**ops, "Idempotency-Key": "create-event-1"}
    first = await client.post("/v1/events", json=EVENT, headers=retried)
    assert first.status_code == 201, first.text
    replayed = await client.post("/v1/events", json=EVENT, headers=retried)
    assert replayed.status_code == 201 and replayed.headers["idempotent-replayed"] == "true"
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=admin)).status_code == 204
    after = await client.post("/v1/events", json=EVENT, headers=retried)
    assert after.status_code == 401, after.text
    assert after.json()["code"] == "unauthorized"
    assert "idempotent-replayed" not in after.headers
    assert first.json()["id"] not in after.text


async def test_a_replayed_key_creation_is_a_problem_and_its_secret_is_never_stored(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession
) -> None:
    retried = {**admin, "Idempotency-Key": "new-kiosk-key"}
    body = {"name": "kiosk 3", "role": "kiosk"}
    first = await client.post("/v1/api-keys", json=body, headers=retried)
    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    replay = await client.post("/v1/api-keys", json=body, headers=retried)
    assert replay.status_code == 409, replay.text
    assert replay.json()["code"] == "secret_shown_once"
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.headers["location"] == first.headers["location"]
    assert secret not in replay.text
    # One key was made, not two.
    keys = (await client.get("/v1/api-keys", params={"limit": 500}, headers=admin)).json()
    assert [k["name"] for k in keys["items"]].count("kiosk 3") == 1
    stored = (await session.scalars(select(IdempotencyRecord))).all()
    assert stored, "the answer was not recorded at all"
    assert not any(secret.encode() in (r.body or b"") for r in stored)
    assert not any(secret[len("smk_") :].encode() in (r.body or b"") for r in stored)


async def test_a_replayed_webhook_creation_never_shows_or_stores_its_signing_secret(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession
) -> None:
    retried = {**admin, "Idempotency-Key": "crm-hook"}
    first = await client.post("/v1/webhooks", json=WEBHOOK, headers=retried)
    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    replay = await client.post("/v1/webhooks", json=WEBHOOK, headers=retried)
    assert replay.status_code == 409 and replay.json()["code"] == "secret_shown_once"
    assert replay.headers["location"] == first.headers["location"]
    assert secret not in replay.text
    bodies = [r.body or b"" for r in (await session.scalars(select(IdempotencyRecord))).all()]
    assert bodies and not any(secret.encode() in b for b in bodies)


async def test_no_body_is_read_before_the_key_is_known_to_be_valid(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        read.append(b"chunk")
        yield b'{"name": "x"}'

    for idempotency in ({}, {"Idempotency-Key": "k-1"}):
        refused = await client.post(
            "/v1/events",
            content=body(),
            headers={
                "Authorization": "Bearer smk_not-a-key",
                "Content-Type": "application/json",
                **idempotency,
            },
        )
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"] == "Bearer"
    assert read == []
    # A valid key's body is read as ever.
    accepted = await client.post(
        "/v1/events",
        content=body(),
        headers={**admin, "Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )
    assert accepted.status_code == 422 and read == [b"chunk"]


async def test_the_same_key_with_another_if_match_is_another_request(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    headers = {**admin, "Idempotency-Key": "publish-1"}
    first = await client.post("/v1/events", json=EVENT, headers={**headers, "If-Match": '"1"'})
    assert first.status_code == 201, first.text
    other = await client.post("/v1/events", json=EVENT, headers={**headers, "If-Match": '"2"'})
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    same = await client.post("/v1/events", json=EVENT, headers={**headers, "If-Match": '"1"'})
    assert same.headers.get("idempotent-replayed") == "true" and same.json() == first.json()
