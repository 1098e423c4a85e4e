"""Per-key rate limits over a moving 60-second window, in Redis or in process memory.

A key is admitted at most `limit` times in any 60 s, wherever the window starts: each admission
is logged with its time and a request is refused while the `limit`-th newest admission is less
than 60 s old. The answer to a refused request is how long until that admission leaves the
window (the Retry-After). With REDIS_URL set every worker on every machine shares one log per
key; without it each process keeps its own, which is right for the embedded single process.
"""

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

WINDOW_SECONDS = 60.0
# How long a request waits for Redis before it is let through uncounted.
ANSWER_WITHIN_S = 0.5
logger = logging.getLogger(__name__)

Clock = Callable[[], float]


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int) -> int | None:
        """Count one request of `key`: None when admitted, else the seconds to wait."""
        ...

    async def close(self) -> None: ...


def _seconds_to_wait(oldest_in_window: float, now: float) -> int:
    return max(1, math.ceil(oldest_in_window + WINDOW_SECONDS - now))


class MemoryRateLimiter:
    """The admissions of each key in this process, newest last."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}

    async def hit(self, key: str, *, limit: int) -> int | None:
        now = self._clock()
        admitted = self._admitted.setdefault(key, deque())
        while admitted and admitted[0] <= now - WINDOW_SECONDS:
            admitted.popleft()
        if len(admitted) >= limit:
            return _seconds_to_wait(admitted[-limit], now)
        admitted.append(now)
        return None

    async def close(self) -> None:
        """Nothing to release; the counts stay with the process."""


# The log of one key is a Redis list of admission times, newest first, never longer than the
# limit; the script reads and writes it in one round trip, atomically for every worker.
_MOVING_WINDOW = """
local limit = tonumber(ARGV[2])
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local last = redis.call('LINDEX', KEYS[1], limit - 1)
if last and tonumber(last) > now - window then
    return last
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return false
"""


class RedisRateLimiter:
    """One admission log per key in Redis, shared by every process that uses the same server.

    When Redis does not answer the request is let through and the failure logged: the limit
    protects the service, and an outage of Redis must not close the door on event day.
    """

    def __init__(self, url: str, *, clock: Clock = time.time, prefix: str = "smk:rl:") -> None:
        self._clock = clock
        self._prefix = prefix
        # The wait for an answer is bounded around the call, not by redis-py's socket timeout,
        # which wraps every send in asyncio.wait_for, a task of its own: 0.03-0.05 ms of CPU a
        # request. redis-py 8 sets one (5 s) unless it is told None.
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=ANSWER_WITHIN_S, socket_timeout=None
        )
        self._script = self._client.register_script(_MOVING_WINDOW)
        self._warned_at = -math.inf

    async def hit(self, key: str, *, limit: int) -> int | None:
        now = self._clock()
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S):
                last = await self._script(
                    keys=[self._prefix + key], args=[repr(now), limit, WINDOW_SECONDS]
                )
        except (TimeoutError, RedisError, OSError) as exc:
            if time.monotonic() - self._warned_at > 10:
                self._warned_at = time.monotonic()
                logger.warning("rate limit not counted: Redis did not answer (%s)", exc)
            return None
        if last is None:
            return None
        return _seconds_to_wait(float(last), now)

    async def close(self) -> None:
        await self._client.aclose()


# Every app in a process (tests run several) counts in the same memory, as one process does.
_IN_THIS_PROCESS = MemoryRateLimiter()


def create_rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis when a URL is configured, else this process's memory."""
    if redis_url:
        return RedisRateLimiter(redis_url)
    return _IN_THIS_PROCESS
