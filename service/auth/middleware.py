"""Authentication before anything else: before a body is read and before an answer is replayed."""

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from service.auth.dependencies import authenticate
from service.errors import Unauthorized, problem_for
from service.middleware import send_problem


class Authenticate:
    """Resolve a request's bearer key (unknown, revoked or over its rate limit: refused here).

    The principal is kept in the request's state, where the route's role gate finds it. Every
    route under /v1 needs a key, so a request without one is a 401 here, before any middleware
    reads its body (a missing Content-Type is not the first thing to tell a caller without a
    key); the public routes (/healthz, /readyz, /metrics, /docs) are outside /v1.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        # Parsed as fastapi.security.HTTPBearer does, so the gate sees the same secret.
        scheme, _, secret = Headers(scope=scope).get("authorization", "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            await send_problem(
                scope,
                receive,
                send,
                Unauthorized("Send an API key as `Authorization: Bearer <key>`."),
            )
            return
        try:
            await authenticate(Request(scope), secret=secret)
        except Exception as exc:
            await send_problem(scope, receive, send, problem_for(exc))
            return
        await self.app(scope, receive, send)


def is_authenticated(scope: Scope) -> bool:
    """Whether `Authenticate` admitted this request's key."""
    return scope.get("state", {}).get("principal") is not None
