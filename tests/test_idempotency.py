"""Retryable POSTs: replay, refusal of a reused key, one effect under concurrency, per-key scope."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service import idempotency
from service.idempotency import purge_expired
from service.models import IdempotencyRecord
from service.models.columns import utcnow
from tests.support import Headers, KeyFactory, Workers

BODY = {
    "kind": "enterprise",
    "name_zh": "温州重试测试有限公司",
    "domains": [{"domain": "iot", "weight": 1}],
}


async def _count(client: httpx.AsyncClient, headers: Headers, name: str = BODY["name_zh"]) -> int:
    found = await client.get("/v1/organizations", params={"q": name, "limit": 500}, headers=headers)
    return len(found.json()["items"])


async def test_same_key_same_body_replays_the_first_answer(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    headers = {**admin, "Idempotency-Key": "register-ouhai-1"}
    first = await client.post("/v1/organizations", json=BODY, headers=headers)
    second = await client.post("/v1/organizations", json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count(client, admin) == 1


async def test_same_key_other_body_is_422_and_does_nothing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    headers = {**admin, "Idempotency-Key": "register-ouhai-2"}
    await client.post("/v1/organizations", json=BODY, headers=headers)
    other = await client.post(
        "/v1/organizations", json={**BODY, "name_zh": "另一家公司"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _count(client, admin, "另一家公司") == 0


async def test_errors_are_replayed_too_but_not_server_failures(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    headers = {**admin, "Idempotency-Key": "bad-body"}
    bad = {**BODY, "kind": "spaceship"}
    first = await client.post("/v1/organizations", json=bad, headers=headers)
    second = await client.post("/v1/organizations", json=bad, headers=headers)
    assert first.status_code == second.status_code == 422
    assert second.json() == first.json()


async def test_keys_are_scoped_to_the_api_key(
    client: httpx.AsyncClient, admin: Headers, make_key: KeyFactory
) -> None:
    other_admin = await make_key("admin")
    first = await client.post(
        "/v1/organizations", json=BODY, headers={**admin, "Idempotency-Key": "k"}
    )
    second = await client.post(
        "/v1/organizations",
        json={**BODY, "name_zh": "另一个客户的公司"},
        headers={**other_admin, "Idempotency-Key": "k"},
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


async def test_overlong_key_is_refused(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.post(
        "/v1/organizations", json=BODY, headers={**admin, "Idempotency-Key": "x" * 256}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_idempotency_key"
    assert await _count(client, admin) == 0


async def test_concurrent_duplicates_from_two_workers_make_one_record(
    two_workers: Workers, committed_key: KeyFactory
) -> None:
    admin = await committed_key("admin")
    headers = {**admin, "Idempotency-Key": "venue-wifi-dropped"}
    body = {**BODY, "name_zh": "并发重试测试公司"}
    a, b = two_workers
    responses = await asyncio.gather(
        *[
            (a if i % 2 else b).post("/v1/organizations", json=body, headers=headers)
            for i in range(6)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert created and len({r.json()["id"] for r in created}) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["code"] == "idempotency_in_progress"
    retry = await a.post("/v1/organizations", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json()["id"] == created[0].json()["id"]
    assert await _count(a, admin, "并发重试测试公司") == 1


async def test_an_unknown_key_leaves_no_idempotency_record(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession
) -> None:
    stranger = {"Authorization": "Bearer smk_not_a_key", "Idempotency-Key": "probe-1"}
    refused = await client.post("/v1/organizations", json=BODY, headers=stranger)
    assert refused.status_code == 401
    records = (await session.scalars(select(IdempotencyRecord))).all()
    assert records == []


async def test_expired_records_are_purged_and_the_key_is_free_again(
    client: httpx.AsyncClient, admin: Headers, session: AsyncSession
) -> None:
    headers = {**admin, "Idempotency-Key": "yesterday"}
    first = await client.post("/v1/organizations", json=BODY, headers=headers)
    record = (await session.scalars(select(IdempotencyRecord))).one()
    record.expires_at = utcnow() - timedelta(seconds=1)
    await session.flush()
    assert await purge_expired(session) == 1
    again = await client.post(
        "/v1/organizations", json={**BODY, "name_zh": "第二天的公司"}, headers=headers
    )
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]


async def test_an_answer_not_stored_during_an_outage_is_stored_once_the_database_is_back(
    client: httpx.AsyncClient, admin: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database goes away between the work and the record of its answer; the client's retry
    # after Retry-After must get that answer, not "in progress" until the lock expires.
    real = idempotency._store
    calls = 0

    async def away_once(sessionmaker: Any, **record: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError("the database is away")
        await real(sessionmaker, **record)

    monkeypatch.setattr(idempotency, "_store", away_once)
    headers = {**admin, "Idempotency-Key": "outage-1"}
    first = await client.post("/v1/organizations", json=BODY, headers=headers)
    assert first.status_code == 201
    await asyncio.wait_for(asyncio.gather(*idempotency._retrying), 5)
    retry = await client.post("/v1/organizations", json=BODY, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert calls == 2
    assert await _count(client, admin) == 1


async def test_a_late_answer_leaves_a_key_that_another_request_took_over_alone(
    session_factory: Any,
) -> None:
    # Request A held the key from `then`; its lock expired and B took over at `now`. A's answer,
    # stored late (a long request, or after an outage), must neither overwrite nor free B's claim.
    now = utcnow()
    then = now - timedelta(seconds=90)
    async with session_factory.begin() as session:
        session.add(
            IdempotencyRecord(
                scope="owner",
                key="k",
                fingerprint="f",
                locked_at=now,
                expires_at=now + timedelta(days=1),
            )
        )
    late = idempotency.Claim(owner="owner", key="k", locked_at=then)
    for status in (201, 503):
        answer = {"status": status, "headers": {}, "body": b"A"}
        await idempotency._store(session_factory, claim=late, response=answer)
        async with session_factory() as session:
            record = await session.get(IdempotencyRecord, ("owner", "k"))
            assert record is not None and record.status is None and record.locked_at == now

    current = idempotency.Claim(owner="owner", key="k", locked_at=now)
    answer = {"status": 201, "headers": {"location": "/v1/x"}, "body": b"B"}
    await idempotency._store(session_factory, claim=current, response=answer)
    async with session_factory() as session:
        record = await session.get(IdempotencyRecord, ("owner", "k"))
        assert record is not None
        assert (record.status, record.body, record.locked_at) == (201, b"B", None)
