"""The pages load in Chromium from the service alone, without a script error."""

from tests.browser.conftest import ContextFactory


async def test_kiosk_and_console_load_without_script_errors(new_context: ContextFactory) -> None:
    page = await (await new_context()).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    for path, title in (("/kiosk", "签到"), ("/console", "会务控制台")):
        response = await page.goto(path)
        assert response is not None and response.status == 200
        assert title in await page.title()
    assert errors == []
