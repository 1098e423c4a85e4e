"""/docs works at a venue without the internet: Swagger UI comes from the service itself."""

from typing import Any

from tests.browser.conftest import ContextFactory, Server


async def test_docs_render_the_operations_with_the_network_cut(
    new_context: ContextFactory, server: Server
) -> None:
    context = await new_context()
    refused: list[str] = []

    async def cut(route: Any) -> None:
        refused.append(route.request.url)
        await route.abort("internetdisconnected")

    # Everything but the service's own origin is unreachable, as at an offline venue.
    await context.route(lambda url: not url.startswith(server.url), cut)
    page = await context.new_page()
    await page.goto("/docs")
    checkins = page.locator(".opblock-summary-path", has_text="/v1/events/{event_id}/checkins")
    await checkins.first.wait_for()
    assert await page.locator(".opblock").count() >= 50
    assert refused == []
