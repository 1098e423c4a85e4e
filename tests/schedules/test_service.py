"""Pair weights for the schedule, as docs/matching.md states them for the demo."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.models import Event
from service.schedules.service import pair_weights


async def test_weights_of_the_documented_demo_pairs(
    session: AsyncSession, settings: Settings
) -> None:
    event = (await session.scalars(select(Event))).one()
    participants, pairs = await pair_weights(session, event=event, settings=settings)
    names = {}
    for p in participants:
        names[p.id] = p.committee.designation if p.committee else p.organization.name_zh  # type: ignore[union-attr]
    by_names = {(names[p.committee], names[p.organization]): p for p in pairs}
    marked = by_names[("ISO/TC 299", "温州瓯海机器人科技有限公司")]
    assert (marked.weight, marked.required) == (8_451 + 10_000 + 5_000, True)
    plain = by_names[("ISO/TC 299", "杭州钱塘具身智能研究院")]
    assert (plain.weight, plain.required) == (8_381, False)
    assert ("ISO/TC 102", "舟山定海油品储运有限公司") not in by_names
    assert all(p.weight > 0 for p in pairs)
