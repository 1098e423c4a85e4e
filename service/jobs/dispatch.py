"""Which way this process hands schedule builds on: to its own pool, or to the queue."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.jobs.local import LocalPool
from service.jobs.queue import QueueSubmitter, uses_queue


def schedule_builds(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, shared: bool = False
) -> LocalPool | QueueSubmitter:
    """The queue's submitter on PostgreSQL (workers run the builds), else a local pool.

    `shared`: sessions bound to one connection, a test's, that no other process can see: the
    build must run here, and only what is submitted here.
    """
    if shared:
        return LocalPool(sessionmaker, settings=settings, poll=False)
    if uses_queue(settings):
        return QueueSubmitter()
    return LocalPool(sessionmaker, settings=settings)
