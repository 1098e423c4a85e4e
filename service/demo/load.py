"""The Wenzhou meeting of 23 September as demo data; loading twice changes nothing."""

import json
import uuid
from datetime import date, datetime, time
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.agreements.service import load_demo_agreements
from service.directory import service as directory
from service.directory.schemas import CommitteeIn, OrganizationIn
from service.events import service as events
from service.events.schemas import EventIn
from service.models import Committee, Event, MeetingRequest, Organization, Preference
from service.participants.schemas import ParticipantIn, ParticipantPatch
from service.participants.service import participants_query, register, update_participant


def demo_file(name: str) -> Any:
    """One of the demo's JSON files, parsed."""
    return json.loads(resources.files("service.demo").joinpath(name).read_text("utf-8"))


async def load_demo(session: AsyncSession) -> dict[str, int]:
    """Upsert the demo's committees and organizations; returns the counts now in the demo."""
    taxonomy = await directory.load_taxonomy(session)
    committees = [CommitteeIn.model_validate(c) for c in demo_file("committees.json")]
    organizations = [
        OrganizationIn.model_validate({**o, "track_record": o.get("track_record", {})})
        for o in demo_file("organizations.json")
    ]
    await directory.upsert_committees(session, items=committees, taxonomy=taxonomy)
    await directory.upsert_organizations(session, items=organizations, taxonomy=taxonomy)
    event, participants = await load_event(session)
    agreements = await load_demo_agreements(
        session, data=demo_file("agreements.json"), taxonomy=taxonomy, event_id=event.id
    )
    return {
        "committees": len(committees),
        "organizations": len(organizations),
        "event": 1,
        "participants": participants,
        **agreements,
    }


def _local_slots(data: dict[str, Any]) -> list[dict[str, str]]:
    zone = ZoneInfo(data["timezone"])
    day = date.fromisoformat(data["date"])
    return [
        {
            key: datetime.combine(day, time.fromisoformat(slot[key]), zone).isoformat()
            for key in ("start", "end")
        }
        for slot in data["slots"]
    ]


async def party_ids(session: AsyncSession) -> dict[tuple[str, str], uuid.UUID]:
    """Demo parties by how the demo files name them: designation or credit code."""
    ids: dict[tuple[str, str], uuid.UUID] = {}
    for id_, designation in (
        await session.execute(select(Committee.id, Committee.designation))
    ).all():
        ids[("committee", designation)] = id_
    rows = await session.execute(select(Organization.id, Organization.credit_code))
    for id_, code in rows.all():
        if code:
            ids[("organization", code)] = id_
    return ids


async def load_event(session: AsyncSession) -> tuple[Event, int]:
    """The Wenzhou event, open for check-in, with all 57 parties and their people."""
    data = demo_file("event.json")
    event = await session.scalar(
        select(Event).where(
            Event.name_zh == data["name_zh"], Event.date == date.fromisoformat(data["date"])
        )
    )
    if event is None:
        event = await events.create_event(
            session,
            data=EventIn.model_validate(
                {
                    "name_zh": data["name_zh"],
                    "name_en": data["name_en"],
                    "venue": data["venue"],
                    "date": data["date"],
                    "timezone": data["timezone"],
                    "slots": _local_slots(data),
                    "tables": data["tables"],
                    "state": "open",
                }
            ),
        )
    ids = await party_ids(session)
    registered = {
        (p.committee_id or p.organization_id): p
        for p in (await session.scalars(participants_query(event.id))).all()
    }
    for item in data["participants"]:
        kind = "committee" if "committee" in item else "organization"
        party_id = ids[(kind, item[kind])]
        values = {
            "people": item["people"],
            "unavailable_slots": item.get("unavailable_slots", []),
            "min_meetings": item.get("min_meetings", 0),
            "max_meetings": item.get("max_meetings"),
        }
        existing = registered.get(party_id)
        if existing is None:
            await register(
                session,
                event=event,
                data=ParticipantIn.model_validate({f"{kind}_id": party_id, **values}),
            )
        else:
            await update_participant(
                session,
                event=event,
                participant_id=existing.id,
                patch=ParticipantPatch.model_validate(
                    {k: v for k, v in values.items() if v is not None}
                ),
                if_match=f'"{existing.version}"',
            )
    await _load_requests_and_preferences(session, event=event, data=data, ids=ids)
    return event, len(data["participants"])


async def _load_requests_and_preferences(
    session: AsyncSession,
    *,
    event: Event,
    data: dict[str, Any],
    ids: dict[tuple[str, str], uuid.UUID],
) -> None:
    by_party: dict[uuid.UUID | None, uuid.UUID] = {
        (p.committee_id or p.organization_id): p.id
        for p in (await session.scalars(participants_query(event.id))).all()
    }

    def participant(ref: dict[str, str]) -> uuid.UUID:
        kind = "committee" if "committee" in ref else "organization"
        return by_party[ids[(kind, ref[kind])]]

    existing = {
        (r.from_participant_id, r.to_participant_id): r
        for r in (
            await session.scalars(select(MeetingRequest).where(MeetingRequest.event_id == event.id))
        ).all()
    }
    for item in data.get("meeting_requests", []):
        key = (participant(item["from"]), participant(item["to"]))
        request = existing.get(key) or MeetingRequest(
            event_id=event.id, from_participant_id=key[0], to_participant_id=key[1]
        )
        request.message, request.state = item["message"], item["state"]
        session.add(request)
    preferences = {
        (p.participant_id, p.counterpart_id): p
        for p in (
            await session.scalars(select(Preference).where(Preference.event_id == event.id))
        ).all()
    }
    for item in data.get("preferences", []):
        key = (participant(item["from"]), participant(item["to"]))
        preference = preferences.get(key) or Preference(
            event_id=event.id, participant_id=key[0], counterpart_id=key[1]
        )
        preference.kind = item["kind"]
        session.add(preference)
    await session.flush()


async def is_empty(session: AsyncSession) -> bool:
    """Whether the directory has neither committees nor organizations yet."""
    committees = await session.scalar(select(func.count()).select_from(Committee))
    organizations = await session.scalar(select(func.count()).select_from(Organization))
    return not committees and not organizations
