"""Who may call a route: the bearer key, its role, and the per-key rate limit."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.service import Principal, Role, admit
from service.config import Settings
from service.errors import Forbidden, TooManyRequests, Unauthorized

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
    """Resolve the key and count the request, committed at once whatever the request does."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    limits = {
        "admin": settings.rate_limit_admin,
        "partner": settings.rate_limit_partner,
        "kiosk": settings.rate_limit_kiosk,
        "table_host": settings.rate_limit_table_host,
    }
    async with request.app.state.statement_connections() as connection:
        admitted = await admit(connection, secret=secret, per_minute=limits)
    if admitted is None:
        raise Unauthorized("The API key is unknown or has been revoked.")
    principal, retry_after = admitted
    request.state.principal = principal
    if retry_after is not None:
        raise TooManyRequests(
            f"This key may make {limits[principal.role]} requests a minute; wait {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
    return principal


AdminKey = Annotated[Principal, Depends(RoleGate("admin"))]
PartnerKey = Annotated[Principal, Depends(RoleGate("admin", "partner"))]
KioskKey = Annotated[Principal, Depends(RoleGate("admin", "kiosk"))]
AnyKey = Annotated[Principal, Depends(RoleGate("admin", "partner", "kiosk"))]
# Marking meetings held or no-show: admins, and the table hosts of the meeting's event.
TableHostKey = Annotated[Principal, Depends(RoleGate("admin", "table_host"))]
