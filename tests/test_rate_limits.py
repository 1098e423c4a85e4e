"""The moving window: at most the limit in any 60 s, wherever the minute's boundary falls.

The same cases run on the in-process limiter and on the Redis one (Redis at TEST_REDIS_URL,
by default the local server), each with a clock the test moves.
"""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.rate_limits import (
    ANSWER_WITHIN_S,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    # Two seconds before a minute begins: where a per-minute counter would reset.
    return Clock(1_800_000_000.0 - 2.0)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter(clock=clock)
        return
    limiter = RedisRateLimiter(REDIS_URL, clock=clock, prefix=f"test:{uuid.uuid4().hex}:")
    try:
        yield limiter
    finally:
        await limiter.close()


async def hits(limiter: RateLimiter, key: str, count: int, *, limit: int) -> list[int | None]:
    return [await limiter.hit(key, limit=limit) for _ in range(count)]


async def test_a_burst_across_the_minutes_boundary_gets_the_limit_once(
    limiter: RateLimiter, clock: Clock
) -> None:
    before = await hits(limiter, "k", 5, limit=5)
    assert before == [None] * 5
    clock.now += 3  # a new calendar minute has begun
    after = await hits(limiter, "k", 5, limit=5)
    # Every one refused, and told to come back when the first of the burst is 60 s old.
    assert after == [57] * 5


async def test_requests_are_admitted_again_as_old_ones_leave_the_window(
    limiter: RateLimiter, clock: Clock
) -> None:
    for _ in range(3):
        assert await limiter.hit("k", limit=3) is None
        clock.now += 10
    assert await limiter.hit("k", limit=3) == 30  # the first is 30 s old
    clock.now += 30
    assert await limiter.hit("k", limit=3) is None  # the first has left the window
    assert await limiter.hit("k", limit=3) == 10  # the second is 50 s old
    clock.now += 0.5
    assert await limiter.hit("k", limit=3) == 10  # waits round up: 9.5 s is 10


async def test_each_key_has_its_own_window(limiter: RateLimiter) -> None:
    assert await hits(limiter, "a", 2, limit=2) == [None, None]
    assert await limiter.hit("a", limit=2) is not None
    assert await limiter.hit("b", limit=2) is None


async def test_in_any_60_s_no_more_than_the_limit_is_admitted(
    limiter: RateLimiter, clock: Clock
) -> None:
    # A steady stream at twice the limit's rate for three minutes.
    admitted: list[float] = []
    for _ in range(3 * 60 * 2):
        if await limiter.hit("k", limit=60) is None:
            admitted.append(clock.now)
        clock.now += 0.5
    assert len(admitted) >= 3 * 60 - 60
    assert max(sum(1 for t in admitted if s <= t < s + 60) for s in admitted) == 60


async def test_a_redis_that_does_not_answer_lets_requests_through() -> None:
    # The limit protects the service; losing Redis must not close the door.
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
    try:
        assert await limiter.hit("k", limit=1) is None
    finally:
        await limiter.close()


async def test_a_redis_that_hangs_lets_requests_through_within_half_a_second() -> None:
    # A server that takes the connection and never answers (a partition, a stuck failover).
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0")
    try:
        started = time.monotonic()
        assert await limiter.hit("k", limit=1) is None
        assert time.monotonic() - started < ANSWER_WITHIN_S + 0.5
    finally:
        await limiter.close()
        server.close()
        await server.wait_closed()


async def test_a_hit_on_redis_starts_no_task_of_its_own() -> None:
    # Every authenticated request makes a hit. redis-py's socket timeout (5 s by default since
    # redis-py 8) wraps each command's send in asyncio.wait_for, which on Python 3.11 (this
    # project's) is a task a request; the wait is bounded around the call instead (the test
    # above).
    limiter = RedisRateLimiter(REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:")
    loop = asyncio.get_running_loop()
    started: list[object] = []
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        started.append(coro)
        if factory is not None:
            return factory(loop, coro, **kwargs)  # type: ignore[no-any-return]
        return asyncio.Task(coro, loop=loop, **kwargs)

    try:
        assert await limiter.hit("k", limit=2) is None  # connects, loads the script
        loop.set_task_factory(counting)
        try:
            answered = [await limiter.hit("k", limit=2) for _ in range(3)]
        finally:
            loop.set_task_factory(factory)
        # Redis counted them (a Redis away would let every hit through, with no task either).
        assert answered[0] is None and all(wait and wait > 0 for wait in answered[1:]), answered
        assert started == []
    finally:
        await limiter.close()
