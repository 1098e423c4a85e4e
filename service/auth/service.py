"""API keys: issue, look up, revoke; and the per-key rate limit."""

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from sqlalchemy import Uuid, bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.errors import NotFound, UnknownParty, Unprocessable
from service.models import ApiKey, Committee, Event, Organization, RateLimitWindow
from service.models.columns import utcnow
from service.statements import table_of

Role = Literal["admin", "partner", "kiosk", "table_host"]
Permission = Literal["undo_checkin", "walk_in"]
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
    permissions: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may(self, permission: Permission) -> bool:
        """Whether the key may do this beyond its role: admins may, others if given it."""
        return self.is_admin or permission in self.permissions

    def is_party(
        self, *, committee_id: uuid.UUID | None = None, organization_id: uuid.UUID | None = None
    ) -> bool:
        """Whether the key speaks for this committee or organization."""
        return (committee_id is not None and committee_id == self.committee_id) or (
            organization_id is not None and organization_id == self.organization_id
        )

    def speaks_for(self, party: "CarriesParty") -> bool:
        """Whether the key speaks for the party a record carries (a participant, say)."""
        return self.is_party(committee_id=party.committee_id, organization_id=party.organization_id)


class CarriesParty(Protocol):
    """A record that belongs to one committee or one organization."""

    @property
    def committee_id(self) -> uuid.UUID | None: ...

    @property
    def organization_id(self) -> uuid.UUID | None: ...


def hash_secret(secret: str) -> str:
    """The stored form of a key; keys are random enough that a fast hash is safe."""
    return hashlib.sha256(secret.encode()).hexdigest()


class PartyRequired(Unprocessable):
    code, title = "party_required", "A partner key needs exactly one party"


class EventRequired(Unprocessable):
    code, title = "event_required", "A table host key needs its event"


class PermissionsForKiosksOnly(Unprocessable):
    code, title = "permissions_for_kiosks_only", "Only kiosk keys take permissions"


class EventBindingRefused(Unprocessable):
    code, title = "event_binding_refused", "Only kiosk and table host keys are bound to an event"


class UnknownEvent(Unprocessable):
    code, title = "unknown_event", "Event does not exist"


# The roles whose routes read the event a key is bound to.
EVENT_BOUND_ROLES = ("kiosk", "table_host")


async def create_api_key(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    committee_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    permissions: Sequence[Permission] = (),
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is shown this once and never stored."""
    if permissions and role != "kiosk":
        raise PermissionsForKiosksOnly(
            "Permissions (undo_checkin, walk_in) are given to kiosk keys; an admin key may do "
            "everything, and partner keys none of it."
        )
    if role == "table_host" and event_id is None:
        raise EventRequired("A table host key marks the meetings of one event: give its event.")
    if (role == "partner") != ((committee_id is None) != (organization_id is None)):
        raise PartyRequired(
            "A partner key is bound to exactly one committee or organization; "
            "admin and kiosk keys to none."
        )
    if committee_id is not None and await session.get(Committee, committee_id) is None:
        raise UnknownParty(f"No committee has id {committee_id}.")
    if organization_id is not None and await session.get(Organization, organization_id) is None:
        raise UnknownParty(f"No organization has id {organization_id}.")
    if event_id is not None and role not in EVENT_BOUND_ROLES:
        # Only the door's and the tables' routes read a key's event: bound elsewhere, it would
        # seem to limit what the key may do, and would not.
        raise EventBindingRefused(
            f"Only kiosk and table host keys are bound to an event, not {role} keys; leave "
            "event_id out.",
            errors=[{"field": "event_id", "message": f"not for a {role} key"}],
        )
    if event_id is not None and await session.get(Event, event_id) is None:
        raise UnknownEvent(
            f"No event has id {event_id}.",
            errors=[{"field": "event_id", "message": "no such event"}],
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role,
        secret_hash=hash_secret(secret),
        prefix=secret[: len(KEY_PREFIX) + 4],
        committee_id=committee_id,
        organization_id=organization_id,
        event_id=event_id,
        permissions=sorted(set(permissions)),
    )
    session.add(key)
    await session.flush()
    return key, secret


async def revoke_api_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKey:
    """Mark a key revoked; revoking twice is harmless."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key has id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


# What a key may do never changes once it is issued; only its revocation does, and that is read
# from the database on every request. So each process keeps the principal of a key it has seen,
# by the secret's hash, and a known key costs one statement: the count, or the revocation check.
_principals: dict[str, Principal] = {}
_MAX_KNOWN = 10_000

_KEY_ID = bindparam("key_id", type_=Uuid)
_STILL_ACTIVE = text("SELECT 1 FROM api_keys WHERE id = :key_id AND revoked_at IS NULL").bindparams(
    _KEY_ID
)
# Counts only while the key is unrevoked, so the answer also says whether it still is.
_COUNT = text(
    "INSERT INTO rate_limit_windows (api_key_id, window_start, count) "
    "SELECT id, :window, 1 FROM api_keys WHERE id = :key_id AND revoked_at IS NULL "
    "ON CONFLICT (api_key_id, window_start) "
    "DO UPDATE SET count = rate_limit_windows.count + 1 "
    "RETURNING count"
).bindparams(_KEY_ID)


async def admit(
    connection: AsyncConnection, *, secret: str, per_minute: Mapping[str, int]
) -> tuple[Principal, int | None] | None:
    """The caller's principal and, when it is over its rate limit, the seconds to wait.

    None for an unknown or revoked key. `per_minute` gives each role's limit (0: none).
    """
    secret_hash = hash_secret(secret)
    principal = _principals.get(secret_hash)
    if principal is None:
        keys = table_of(ApiKey)
        found = await connection.execute(
            select(keys).where(keys.c.secret_hash == secret_hash, keys.c.revoked_at.is_(None))
        )
        key = found.one_or_none()
        if key is None:
            return None
        principal = Principal(
            key_id=key.id,
            role=cast(Role, key.role),
            name=key.name,
            committee_id=key.committee_id,
            organization_id=key.organization_id,
            event_id=key.event_id,
            permissions=frozenset(key.permissions or ()),
        )
        if len(_principals) >= _MAX_KNOWN:
            _principals.clear()
        _principals[secret_hash] = principal
    elif (
        not per_minute[principal.role]
        and await connection.scalar(_STILL_ACTIVE, {"key_id": principal.key_id}) is None
    ):
        _principals.pop(secret_hash, None)
        return None
    limit = per_minute[principal.role]
    if not limit:
        return principal, None
    now = time.time()
    window = int(now // 60)
    count = await connection.scalar(_COUNT, {"key_id": principal.key_id, "window": window})
    if count is None:
        # Revoked since this process first saw the key.
        _principals.pop(secret_hash, None)
        return None
    if count == 1:
        # First request of a new minute: the key's older windows are of no further use.
        await connection.execute(
            delete(RateLimitWindow).where(
                RateLimitWindow.api_key_id == principal.key_id,
                RateLimitWindow.window_start < window,
            )
        )
    if count <= limit:
        return principal, None
    return principal, max(1, int((window + 1) * 60 - now + 0.999))
