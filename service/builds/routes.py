"""Schedule builds over HTTP: read one's state and progress, cancel it."""

import asyncio
import uuid

from fastapi import APIRouter, Request, Response

from service.auth.dependencies import AdminKey
from service.builds import service
from service.builds.schemas import ScheduleBuildOut
from service.db import SessionDep
from service.errors import NotFound, problem_responses
from service.models import ScheduleBuild

router = APIRouter(prefix="/v1/events/{event_id}/schedule-builds", tags=["schedule"])

# A cancelled running build stops within a second; the answer waits that long to show it.
CANCEL_WAIT_S = 1.5
POLL_S = 0.1


def _render(build: ScheduleBuild, response: Response) -> ScheduleBuildOut:
    response.headers.update(service.poll_headers(build))
    return service.build_out(build)


@router.get(
    "/{build_id}",
    operation_id="getScheduleBuild",
    summary="A build's state, times and live progress (poll it: Retry-After says how often)",
    responses=problem_responses(NotFound),
)
async def get_build(
    event_id: uuid.UUID, build_id: uuid.UUID, _: AdminKey, session: SessionDep, response: Response
) -> ScheduleBuildOut:
    build = await service.get_build(session, event_id=event_id, build_id=build_id)
    return _render(build, response)


@router.post(
    "/{build_id}:cancel",
    operation_id="cancelScheduleBuild",
    summary="Cancel a build: a queued one at once, a running one within a second",
    responses=problem_responses(NotFound, service.BuildFinished),
)
async def cancel_build(
    event_id: uuid.UUID, build_id: uuid.UUID, _: AdminKey, request: Request, response: Response
) -> ScheduleBuildOut:
    sessionmaker = request.app.state.sessionmaker
    async with sessionmaker.begin() as session:
        build = await service.cancel(session, event_id=event_id, build_id=build_id)
    # The process running it sees the request within half a second and stops the engine.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CANCEL_WAIT_S
    while build.state == "running" and loop.time() < deadline and request.app.state.builds.reads:
        await asyncio.sleep(POLL_S)
        async with sessionmaker.begin() as session:
            build = await service.get_build(session, event_id=event_id, build_id=build_id)
    return _render(build, response)
