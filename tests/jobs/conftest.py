"""Fixtures for schedule builds: where builds run while a test waits for them."""

import asyncio
import contextlib
import datetime
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from bench.schedule import make_event
from service.badges import new_badge_code
from service.config import Settings
from service.jobs import queue
from service.models import Committee, Event, Organization, Participant, Preference

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


async def insert_bench_event(
    session: AsyncSession, *, committees: int, orgs: int, slots: int, seed: int = 1
) -> uuid.UUID:
    """An event shaped like bench/schedule.py's random ones, as rows: parties without domains
    (score 0), each candidate pair a would-like mark and each required one a must-meet."""
    problem = make_event(committees=committees, orgs=orgs, slots=slots, seed=seed)
    tag = uuid.uuid4().hex[:8]
    event = Event(
        name_zh=f"基准 {tag}",
        venue="温州",
        date=datetime.date(2025, 10, 10),
        timezone="Asia/Shanghai",
        slots=[
            {
                "start": f"2025-10-10T{8 + i // 3:02d}:{(i % 3) * 20:02d}:00+08:00",
                "end": f"2025-10-10T{8 + i // 3:02d}:{(i % 3) * 20 + 15:02d}:00+08:00",
            }
            for i in range(slots)
        ],
        tables=committees,
        state="open",
    )
    session.add(event)
    ids: dict[str, uuid.UUID] = {}
    for person in problem.participants:
        if person.kind == "committee":
            party: Committee | Organization = Committee(
                designation=f"BENCH/{tag}/{person.id}",
                level="national",
                name_zh=f"委员会 {person.id}",
                name_en=f"Committee {person.id}",
            )
        else:
            party = Organization(kind="enterprise", name_zh=f"企业 {tag} {person.id}")
        session.add(party)
        await session.flush()
        participant = Participant(
            event_id=event.id,
            committee_id=party.id if isinstance(party, Committee) else None,
            organization_id=party.id if isinstance(party, Organization) else None,
            badge_code=new_badge_code(),
            unavailable_slots=sorted(person.unavailable),
            min_meetings=person.min_meetings,
            max_meetings=person.max_meetings or slots,
            table_number=person.table,
        )
        session.add(participant)
        await session.flush()
        ids[person.id] = participant.id
    for candidate in problem.candidates:
        session.add(
            Preference(
                event_id=event.id,
                participant_id=ids[candidate.b],
                counterpart_id=ids[candidate.a],
                kind="must_meet" if candidate.required else "would_like",
            )
        )
    await session.flush()
    return event.id
