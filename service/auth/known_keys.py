"""The API keys this process has seen, forgotten as soon as any key is revoked or deleted.

What a key may do never changes once it is issued; only its revocation (or its deletion, with
its party) does. So each process keeps the principal of every key it has looked up, and a
known key costs no statement. Every change to a key is heard at once:

- in this process, by the ORM's events on the rows that carry keys (revoking a key, deleting
  it or the committee or organization it is bound to);
- in every other process on PostgreSQL, by LISTEN on the channel that a trigger on api_keys
  notifies (migration 0017), on a connection of the listener's own. While that connection is
  down the keys are looked up on every request, since a revocation may go unheard.

SQLite serves one process, where the ORM's events are enough.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import URL

from service.auth.service import Principal
from service.models import ApiKey, Committee, Organization

CHANNEL = "api_keys_changed"
MAX_KNOWN = 10_000
logger = logging.getLogger(__name__)


class KnownKeys:
    """Principals by the hash of their secret, and a count of the times they were forgotten.

    A lookup that began before a forgetting may have read a key as it was before; it is not
    kept (`remember` compares the count taken before the lookup).
    """

    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}
        self.generation = 0

    def get(self, secret_hash: str) -> Principal | None:
        return self._principals.get(secret_hash)

    def remember(self, secret_hash: str, principal: Principal, *, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._principals) >= MAX_KNOWN:
            self._principals.clear()
        self._principals[secret_hash] = principal

    def forget_all(self) -> None:
        self.generation += 1
        self._principals.clear()


# One per process: every app in it (tests run several) shares what it has seen and forgets it
# together.
KNOWN_KEYS = KnownKeys()


def _forget(*_: Any) -> None:
    KNOWN_KEYS.forget_all()


# Revoking updates the key; committees and organizations take their keys with them (the
# foreign key cascades in the database, out of the ORM's sight).
event.listen(ApiKey, "after_update", _forget)
for _model in (ApiKey, Committee, Organization):
    event.listen(_model, "after_delete", _forget)


class RevocationListener:
    """LISTEN for changed keys on a connection of its own; reconnects until stopped.

    `listening` says whether a change made elsewhere would be heard now; only then may the
    known keys be trusted.
    """

    def __init__(self, url: URL, *, known: KnownKeys = KNOWN_KEYS, probe_seconds: float = 5.0):
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._known = known
        self._probe_seconds = probe_seconds
        self._task: asyncio.Task[None] | None = None
        self._heard_first = asyncio.Event()
        self.listening = False

    async def start(self, *, wait: float) -> None:
        """Start listening; wait up to `wait` seconds for the first connection."""
        self._task = asyncio.create_task(self._run(), name="api-key revocation listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._heard_first.wait(), wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.listening = False

    def _on_change(self, *_: Any) -> None:
        self._known.forget_all()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.listening:
                    logger.warning("revocation listener lost its connection: %s", exc)
                    backoff = 0.1
                else:
                    backoff = min(backoff * 2, 2.0)
            finally:
                self.listening = False
                self._known.forget_all()
            await asyncio.sleep(backoff)

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        try:
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANNEL, self._on_change)
            # Whatever changed while nobody listened is forgotten with the rest.
            self._known.forget_all()
            self.listening = True
            self._heard_first.set()
            while True:
                # A closed connection is noticed at once; a silent one by the probe.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._probe_seconds)
                if lost.is_set():
                    raise ConnectionError("the connection was closed")
                await asyncio.wait_for(connection.fetchval("SELECT 1"), 2)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)
