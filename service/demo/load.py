"""The Wenzhou meeting of 23 September as demo data; loading twice changes nothing."""

import json
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.directory import service as directory
from service.directory.schemas import CommitteeIn, OrganizationIn
from service.models import Committee, Organization


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
    return {"committees": len(committees), "organizations": len(organizations)}


async def is_empty(session: AsyncSession) -> bool:
    """Whether the directory has neither committees nor organizations yet."""
    committees = await session.scalar(select(func.count()).select_from(Committee))
    organizations = await session.scalar(select(func.count()).select_from(Organization))
    return not committees and not organizations
