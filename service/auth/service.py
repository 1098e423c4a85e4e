"""API keys: issue, look up, revoke; and the per-key rate limit."""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import upsert_insert, utcnow
from service.errors import NotFound, Unprocessable
from service.models import ApiKey, Committee, Organization, RateLimitWindow

Role = Literal["admin", "partner", "kiosk"]
KEY_PREFIX = "smk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key's id, role and the party or event it is bound to."""

    key_id: uuid.UUID
    role: Role
    name: str = ""
    committee_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def is_party(
        self, *, committee_id: uuid.UUID | None = None, organization_id: uuid.UUID | None = None
    ) -> bool:
        """Whether the key speaks for this committee or organization."""
        return (committee_id is not None and committee_id == self.committee_id) or (
            organization_id is not None and organization_id == self.organization_id
        )


def hash_secret(secret: str) -> str:
    """The stored form of a key; keys are random enough that a fast hash is safe."""
    return hashlib.sha256(secret.encode()).hexdigest()


class UnknownParty(Unprocessable):
    code, title = "unknown_party", "Party does not exist"


class PartyRequired(Unprocessable):
    code, title = "party_required", "A partner key needs exactly one party"


async def create_api_key(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    committee_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is shown this once and never stored."""
    if (role == "partner") != ((committee_id is None) != (organization_id is None)):
        raise PartyRequired(
            "A partner key is bound to exactly one committee or organization; "
            "admin and kiosk keys to none."
        )
    if committee_id is not None and await session.get(Committee, committee_id) is None:
        raise UnknownParty(f"No committee has id {committee_id}.")
    if organization_id is not None and await session.get(Organization, organization_id) is None:
        raise UnknownParty(f"No organization has id {organization_id}.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role,
        secret_hash=hash_secret(secret),
        prefix=secret[: len(KEY_PREFIX) + 4],
        committee_id=committee_id,
        organization_id=organization_id,
        event_id=event_id,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def find_active_key(session: AsyncSession, *, secret: str) -> ApiKey | None:
    """The unrevoked key with this secret, read fresh so a revocation applies at once."""
    return await session.scalar(
        select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret), ApiKey.revoked_at.is_(None))
    )


async def revoke_api_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKey:
    """Mark a key revoked; revoking twice is harmless."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key has id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


async def count_request(session: AsyncSession, *, key_id: uuid.UUID, per_minute: int) -> int | None:
    """Count one request in the key's current minute; the seconds to wait when over the limit."""
    now = time.time()
    window = int(now // 60)
    stmt = (
        upsert_insert(session, RateLimitWindow)
        .values(api_key_id=key_id, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=["api_key_id", "window_start"],
            set_={"count": RateLimitWindow.count + 1},
        )
        .returning(RateLimitWindow.count)
    )
    count = (await session.execute(stmt)).scalar_one()
    if count == 1:
        # First request of a new minute: the key's older windows are of no further use.
        await session.execute(
            delete(RateLimitWindow).where(
                RateLimitWindow.api_key_id == key_id, RateLimitWindow.window_start < window
            )
        )
    if count <= per_minute:
        return None
    return max(1, int((window + 1) * 60 - now + 0.999))
