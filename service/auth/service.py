"""API keys: issue, look up, revoke."""

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.errors import NotFound, UnknownParty, Unprocessable
from service.models import ApiKey, Committee, Event, Organization
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


async def find_principal(connection: AsyncConnection, *, secret_hash: str) -> Principal | None:
    """The principal of an unrevoked key, by the hash of its secret; None for any other."""
    keys = table_of(ApiKey)
    found = await connection.execute(
        select(keys).where(keys.c.secret_hash == secret_hash, keys.c.revoked_at.is_(None))
    )
    key = found.one_or_none()
    if key is None:
        return None
    return Principal(
        key_id=key.id,
        role=cast(Role, key.role),
        name=key.name,
        committee_id=key.committee_id,
        organization_id=key.organization_id,
        event_id=key.event_id,
        permissions=frozenset(key.permissions or ()),
    )
