"""Who may call a route: the bearer key, its role, and the per-key rate limit."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.known_keys import KNOWN_KEYS, RevocationListener
from service.auth.service import Principal, Role, find_principal, hash_secret
from service.config import Settings
from service.errors import Forbidden, TooManyRequests, Unauthorized
from service.rate_limits import RateLimiter

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer smk_...`")


class RoleGate:
    """A dependency admitting the listed roles; every non-public route declares one."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if credentials is None:
            raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
        principal = await authenticate(request, secret=credentials.credentials)
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(f"A {principal.role} key may not do this (allowed: {allowed}).")
        return principal


async def authenticate(request: Request, *, secret: str) -> Principal:
    """Resolve the key (known keys cost no statement) and count the request against its limit."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    state = request.app.state
    listener: RevocationListener | None = state.revocation_listener
    secret_hash = hash_secret(secret)
    # Known keys are trusted only while every revocation would be heard.
    principal = KNOWN_KEYS.get(secret_hash) if listener is None or listener.listening else None
    if principal is None:
        generation = KNOWN_KEYS.generation
        async with state.statement_connections() as connection:
            principal = await find_principal(connection, secret_hash=secret_hash)
        if principal is None:
            raise Unauthorized("The API key is unknown or has been revoked.")
        if listener is None or listener.listening:
            KNOWN_KEYS.remember(secret_hash, principal, generation=generation)
    request.state.principal = principal
    settings: Settings = state.settings
    limit = {
        "admin": settings.rate_limit_admin,
        "partner": settings.rate_limit_partner,
        "kiosk": settings.rate_limit_kiosk,
        "table_host": settings.rate_limit_table_host,
    }[principal.role]
    if limit:
        limiter: RateLimiter = state.rate_limiter
        retry_after = await limiter.hit(str(principal.key_id), limit=limit)
        if retry_after is not None:
            raise TooManyRequests(
                f"This key may make {limit} requests in any 60 s; wait {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )
    return principal


AdminKey = Annotated[Principal, Depends(RoleGate("admin"))]
PartnerKey = Annotated[Principal, Depends(RoleGate("admin", "partner"))]
KioskKey = Annotated[Principal, Depends(RoleGate("admin", "kiosk"))]
AnyKey = Annotated[Principal, Depends(RoleGate("admin", "partner", "kiosk"))]
# Marking meetings held or no-show: admins, and the table hosts of the meeting's event.
TableHostKey = Annotated[Principal, Depends(RoleGate("admin", "table_host"))]
