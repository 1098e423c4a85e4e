"""Events and registrations: the rules of who takes part, and finding them at the door."""

import uuid
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.service import Principal
from service.errors import (
    Conflict,
    Forbidden,
    InUse,
    NotFound,
)
from service.events.schemas import EventIn, EventPatch
from service.integrity import delete_unless_referred
from service.models import CheckIn, Event
from service.versions import require_match, stamp_if_changed


class EventNotAllowed(Forbidden):
    code, title = "event_not_allowed", "Key is limited to another event"


# --- events -------------------------------------------------------------------------------------


async def get_event(
    session: AsyncSession, *, event_id: uuid.UUID, principal: Principal | None = None
) -> Event:
    """One event; 404 when there is none, 403 for a kiosk key bound to another event."""
    return visible_event(await session.get(Event, event_id), event_id=event_id, principal=principal)


# An event as the ORM loads it, or as the door's PostgreSQL statement reads it.
E = TypeVar("E")


def visible_event(event: E | None, *, event_id: uuid.UUID, principal: Principal | None) -> E:
    """The event as this key may see it: 404 when there is none, 403 for a key bound to
    another event."""
    if event is None:
        raise NotFound(f"No event has id {event_id}.")
    if principal is not None and principal.event_id is not None and principal.event_id != event_id:
        raise EventNotAllowed("This key is limited to another event.")
    return event


def _slots_json(slots: list[Any]) -> list[dict[str, str]]:
    return [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in slots]


async def create_event(session: AsyncSession, *, data: EventIn) -> Event:
    """A new event."""
    values = data.model_dump(exclude={"slots"})
    event = Event(**values, slots=_slots_json(data.slots))
    session.add(event)
    await session.flush()
    return event


class EventHasCheckIns(Conflict):
    code, title = "event_has_checkins", "Event has check-ins"


async def update_event(
    session: AsyncSession, *, event_id: uuid.UUID, patch: EventPatch, if_match: str | None
) -> Event:
    """Apply the fields sent; an event with check-ins cannot go back to draft."""
    event = await get_event(session, event_id=event_id)
    require_match(if_match, version=event.version)
    values = patch.model_dump(include=patch.model_fields_set, exclude={"slots"})
    if values.get("state") == "draft" and event.state != "draft":
        checked_in = await session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event_id)
        )
        if checked_in:
            raise EventHasCheckIns("People have checked in; the event cannot return to draft.")
    for key, value in values.items():
        setattr(event, key, value)
    if patch.slots is not None:
        event.slots = _slots_json(patch.slots)
    stamp_if_changed(session, event)
    await session.flush()
    return event


async def delete_event(session: AsyncSession, *, event_id: uuid.UUID, if_match: str | None) -> None:
    """Remove an event with everything registered for it; refused once anyone checked in."""
    # Locked before counting its check-ins: a check-in locks the event too (checkins' door
    # query, FOR KEY SHARE), so it either committed before this counts, or waits and then finds
    # no event. Without the lock one could land between the count and the delete, and vanish.
    event = visible_event(
        await session.get(Event, event_id, with_for_update=True), event_id=event_id, principal=None
    )
    require_match(if_match, version=event.version)
    checked_in = await session.scalar(
        select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event_id)
    )
    if checked_in:
        raise EventHasCheckIns("People have checked in; close the event instead of deleting it.")
    await delete_unless_referred(
        session,
        event,
        refused=InUse("Intents or memoranda refer to this event; it cannot be deleted."),
    )


class Slotted(Protocol):
    """Anything with an event's slots, as stored: the event, or the door's reading of it."""

    @property
    def slots(self) -> list[Any]: ...


def slot_times(event: Slotted) -> list[tuple[datetime, datetime]]:
    """The event's slots as aware datetimes, slot n at index n-1."""
    return [
        (datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in event.slots
    ]
