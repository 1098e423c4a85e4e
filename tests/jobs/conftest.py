"""Fixtures for schedule builds: where builds run while a test waits for them."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from service.config import Settings
from service.jobs import queue

# A simple client's build: wait for the draft (201) instead of following the build (202).
WAIT = {"Prefer": "wait=60"}


@pytest.fixture
async def build_worker(settings: Settings, committed_app: FastAPI) -> AsyncIterator[None]:
    """On PostgreSQL, a queue worker (as `python -m service worker` runs it) in this process for
    the test; on SQLite the app's own pool runs builds and nothing more is needed."""
    if not queue.uses_queue(settings):
        yield
        return
    task = asyncio.create_task(queue.serve(settings, install_signal_handlers=False))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
