"""The organizer console in Chromium on a real server: sign-in, today's check-ins, roster import
with a bad row, build / clash / publish, printed agendas, the report, and accessibility."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import ContextFactory, Server, axe_violations, screenshot

try:
    from playwright.async_api import expect
except ImportError:  # pragma: no cover - the conftest skips these tests then
    expect = None

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

TABLET = {"width": 820, "height": 1180}
# How often the Today screen asks again (static/console/today.js POLL_MS).
POLL_MS = 5000
DESKTOP = {"width": 1280, "height": 800}


async def signed_in(
    new_context: ContextFactory,
    server: Server,
    screen: str = "today",
    *,
    clock: bool = False,
    **options: Any,
) -> tuple["BrowserContext", "Page"]:
    """The console signed in with the admin key, on a screen; with `clock`, the page's timers
    are Playwright's (time runs as usual, and a test may jump it forward)."""
    context = await new_context(**options)
    if clock:
        await context.clock.install()
    page = await context.new_page()
    await page.goto("/console")
    await page.fill("#key", server.admin_key)
    await page.press("#key", "Enter")
    await page.wait_for_selector("#screen")
    if screen != "today":
        await page.goto(f"/console#{screen}")
        await page.wait_for_selector(f'nav a[href="#{screen.split("/")[0]}"][aria-current="page"]')
    return context, page


def participants(server: Server) -> list[dict[str, Any]]:
    with server.client() as client:
        return list(
            client.get(f"/v1/events/{server.event_id}/participants", params={"limit": 500}).json()[
                "items"
            ]
        )


async def test_sign_in_takes_only_an_admin_key_and_keeps_it_out_of_the_url(
    new_context: ContextFactory, server: Server
) -> None:
    page = await (await new_context()).new_page()
    await page.goto("/console")
    await page.fill("#key", server.create_key("kiosk"))
    await page.press("#key", "Enter")
    refusal = page.locator('[role="alert"]')
    await refusal.wait_for()
    assert "不是管理员密钥" in await refusal.inner_text()
    assert await page.locator("#screen").count() == 0

    await page.fill("#key", "smk_not_a_key")
    await page.press("#key", "Enter")
    await page.locator('[role="alert"]', has_text="密钥无效").wait_for()

    await page.fill("#key", server.admin_key)
    await page.press("#key", "Enter")
    await page.wait_for_selector("#screen table.status")
    assert server.admin_key not in page.url
    stored = await page.evaluate(
        "() => [sessionStorage.getItem('smk.api_key'), localStorage.length]"
    )
    assert stored == [server.admin_key, 0]
    await page.click("#signout")
    await page.wait_for_selector("#key")
    assert await page.evaluate("() => sessionStorage.getItem('smk.api_key')") is None


async def test_today_shows_progress_by_kind_the_arrivals_chart_and_failed_scans_live(
    new_context: ContextFactory, server: Server
) -> None:
    # From the end of the roster: the kiosk's tests, on the same server, take from its start.
    people = [p for p in reversed(participants(server)) if p["checked_in_at"] is None]
    assert len(people) >= 4
    now = datetime.now(UTC)
    with server.client() as client:
        for minutes, person in zip((25, 12, 11), people[:3], strict=True):
            answer = client.post(
                f"/v1/events/{server.event_id}/checkins",
                json={
                    "badge_code": person["badge_code"],
                    "scanned_at": (now - timedelta(minutes=minutes)).isoformat(),
                },
            )
            assert answer.status_code == 201, answer.text
        unknown = client.post(
            f"/v1/events/{server.event_id}/checkins", json={"badge_code": "NOPE-CONSOLE"}
        )
        assert unknown.status_code == 404, unknown.text
        arrived = [
            s
            for s in client.get(
                f"/v1/events/{server.event_id}/scans", params={"failed": False, "limit": 500}
            ).json()["items"]
            if s["outcome"] == "checked_in"
        ]
        status = client.get(f"/v1/events/{server.event_id}/checkins/status").json()

    _, page = await signed_in(new_context, server, clock=True)
    total = page.locator("table.status tfoot td.num")
    await total.first.wait_for()
    assert [await c.inner_text() for c in await total.all()] == [
        str(status["total"][k]) for k in ("registered", "checked_in", "expected")
    ]
    by_kind = [
        [await c.inner_text() for c in await row.locator("td.num").all()]
        for row in await page.locator("table.status tbody tr").all()
    ]
    assert by_kind == [
        [str(status["by_kind"][k][n]) for n in ("registered", "checked_in", "expected")]
        for k in ("committee", "enterprise", "association", "institute")
        if k in status["by_kind"]
    ]
    # Each bar's tooltip ends in "+n": together they are every arrival the service recorded.
    bars = await page.locator("svg.arrivals rect.bar title").evaluate_all(
        "titles => titles.map(t => t.textContent)"
    )
    assert sum(int(t.rsplit("+", 1)[1]) for t in bars) == len(arrived)
    assert len(bars) >= 2  # 25 and 11-12 minutes ago fall in different 5-minute bars
    failed = page.locator("table.failed")
    assert "NOPECONSOLE" in await failed.inner_text()  # as the service normalized it
    assert "未知胸牌" in await failed.inner_text()

    # Who is still expected, to call before the first round: the late one is listed.
    late = page.locator(f'table.missing tr[data-participant="{people[3]["id"]}"]')
    assert await late.count() == 1
    assert people[3]["people"][0]["name"] in await late.inner_text()
    arrived_first = page.locator(f'table.missing tr[data-participant="{people[0]["id"]}"]')
    assert await arrived_first.count() == 0

    # Live: a check-in at the door shows up without a reload.
    with server.client() as client:
        answer = client.post(
            f"/v1/events/{server.event_id}/checkins", json={"badge_code": people[3]["badge_code"]}
        )
        assert answer.status_code == 201
    expected = str(status["total"]["checked_in"] + 1)
    # Polled every 5 s: the next poll shows it, without a reload. The clock jumps to it rather
    # than waiting. (A locator, not wait_for_function, whose polling evaluates strings, which
    # the page's CSP refuses.)
    await page.clock.fast_forward(POLL_MS)
    await expect(total.nth(1)).to_have_text(expected, timeout=15000)
    await late.wait_for(state="detached", timeout=15000)
    await screenshot(page, "console-today-1280")
    await page.set_viewport_size(TABLET)
    await screenshot(page, "console-today-tablet")


def roster_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def test_a_roster_with_bad_rows_is_refused_and_each_bad_row_named_by_its_line(
    new_context: ContextFactory, server: Server
) -> None:
    _, page = await signed_in(new_context, server, "directory")
    rows = [
        ["kind", "name_zh", "name_en", "credit_code", "region", "domains"],
        ["enterprise", "温州控制台测试鞋业有限公司", "", "", "浙江省温州市", "鞋革:1"],
        ["planet", "温州坏类别有限公司", "", "", "浙江省温州市", "物联网"],
        ["enterprise", "温州未知领域有限公司", "", "", "浙江省温州市", "astrology:1"],
    ]
    await page.select_option("#import-target", "organizations")
    await page.set_input_files(
        "#import-file",
        {"name": "名单.csv", "mimeType": "text/csv", "buffer": roster_csv(rows)},
    )
    await page.click("#import-submit")
    bad = page.locator("table.bad-rows")
    await bad.wait_for()
    lines = {
        int(r): await page.locator(f'table.bad-rows tr[data-row="{r}"]').inner_text()
        for r in await bad.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.row)")
    }
    assert sorted(lines) == [3, 4], lines
    assert "第 3 行" in lines[3] and "kind" in lines[3]
    assert "第 4 行" in lines[4] and "domains" in lines[4] and "astrology" in lines[4]
    assert "整个文件都没有导入" in await page.locator(".import-result").inner_text()
    with server.client() as client:
        found = client.get("/v1/organizations", params={"q": "温州控制台测试鞋业"}).json()
    assert found["items"] == []  # all or nothing: the good row was not imported either
    await screenshot(page, "console-import-bad-rows")

    # Fixed, the same file imports.
    await page.set_input_files(
        "#import-file",
        {"name": "名单.csv", "mimeType": "text/csv", "buffer": roster_csv(rows[:2])},
    )
    await page.click("#import-submit")
    await page.locator(".import-result .ok").wait_for()
    assert "新增 1" in await page.locator(".import-result").inner_text()


async def test_build_move_into_a_clash_explained_then_publish_and_print_an_agenda(
    new_context: ContextFactory, server: Server
) -> None:
    context, page = await signed_in(new_context, server, "meetings")
    await page.locator("#build").wait_for()
    await page.click("#build")
    await page.locator(".notice .ok").wait_for(timeout=60000)
    assert "草稿已生成" in await page.locator(".notice").inner_text()
    with server.client() as client:
        drafted = client.get(f"/v1/events/{server.event_id}/schedule").json()["draft"]
        meetings = client.get(
            f"/v1/events/{server.event_id}/meetings",
            params={"schedule": "draft", "limit": 500},
        ).json()["items"]
    assert drafted and len(meetings) == drafted["meetings"]
    await page.locator(f'.grid-panel[data-schedule="{drafted["id"]}"]').wait_for()
    assert await page.locator("table.grid button.cell").count() == len(meetings)

    # Two meetings of one committee: moving the first into the second's slot double-books it.
    by_committee: dict[str, list[dict[str, Any]]] = {}
    for m in meetings:
        by_committee.setdefault(m["committee"]["participant_id"], []).append(m)
    first, second = next(ms for ms in by_committee.values() if len(ms) >= 2)[:2]
    await page.click(f'button.cell[data-meeting="{first["id"]}"]')
    dialog = page.locator("dialog.move-dialog")
    await dialog.wait_for()
    await page.select_option("#move-slot", str(second["slot"]))
    await page.click("#move-submit")
    problem = dialog.locator(".problem")
    await problem.wait_for()
    text = await problem.inner_text()
    assert "409" in text and "double_booked" in text
    assert "无法移动" in text
    assert f"第 {second['slot']} 场" in text
    assert second["organization"]["name_zh"] in text  # who holds the place, by name
    await screenshot(page, "console-meetings-clash")
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    with server.client() as client:
        unchanged = client.get(f"/v1/events/{server.event_id}/meetings/{first['id']}").json()
    assert unchanged["slot"] == first["slot"] and unchanged["version"] == first["version"]

    # A slot where neither party meets: the move goes through.
    busy = {
        m["slot"]
        for m in meetings
        if m["committee"]["participant_id"] == first["committee"]["participant_id"]
        or m["organization"]["participant_id"] == first["organization"]["participant_id"]
    }
    people = {p["id"]: p for p in participants(server)}
    unavailable = set(people[first["committee"]["participant_id"]]["unavailable_slots"]) | set(
        people[first["organization"]["participant_id"]]["unavailable_slots"]
    )
    free = [s for s in range(1, 9) if s not in busy | unavailable]
    if free:
        await page.click(f'button.cell[data-meeting="{first["id"]}"]')
        await page.select_option("#move-slot", str(free[0]))
        await page.click("#move-submit")
        await page.locator(".notice .ok").filter(has_text="已移到").wait_for()
        with server.client() as client:
            moved = client.get(f"/v1/events/{server.event_id}/meetings/{first['id']}").json()
        assert moved["slot"] == free[0]

    await page.click("#publish")
    await page.locator(".notice .ok").filter(has_text="日程已发布").wait_for()
    with server.client() as client:
        published = client.get(f"/v1/events/{server.event_id}/schedule").json()["published"]
    assert published["id"] == drafted["id"]
    await page.locator("#published-figures").filter(has_text=str(published["meetings"])).wait_for()
    await page.set_viewport_size(DESKTOP)
    await screenshot(page, "console-meetings-1280")

    # The committee's printed agenda, opened from the console without typing the key.
    committee = people[first["committee"]["participant_id"]]
    await page.select_option("#agenda-participant", committee["id"])
    async with context.expect_page() as opened:
        await page.click("#agenda-open")
    agenda = await opened.value
    await agenda.wait_for_selector("html[data-styled]")
    assert agenda.url.startswith("blob:") and server.admin_key not in agenda.url
    sheet = await agenda.locator("body").inner_text()
    assert committee["party"]["designation"] in sheet
    assert "2025年9月23日" in sheet and "温州国际会展中心" in sheet
    assert second["organization"]["name_zh"] in sheet
    assert re.search(r"\d\d:\d\d–\d\d:\d\d", sheet)
    await screenshot(agenda, "console-agenda-print")

    # Every participant's agenda in one document, a page each, to print the day before.
    async with context.expect_page() as opened:
        await page.click("#agenda-all")
    everyone = await opened.value
    await everyone.wait_for_selector("html[data-styled]", timeout=60000)
    assert await everyone.locator("section.agenda-page").count() == len(people)


async def test_the_grid_works_from_the_keyboard(
    new_context: ContextFactory, server: Server
) -> None:
    _, page = await signed_in(new_context, server, "meetings")
    await page.locator("#build").wait_for()
    await page.focus("#build")
    await page.keyboard.press("Enter")  # a build from the keyboard, so the grid has meetings
    await page.locator(".notice .ok").wait_for(timeout=60000)
    with server.client() as client:
        drafted = client.get(f"/v1/events/{server.event_id}/schedule").json()["draft"]
    cell = page.locator(f'.grid-panel[data-schedule="{drafted["id"]}"] button.cell').first
    await cell.wait_for()
    meeting_id = await cell.get_attribute("data-meeting")
    await cell.focus()
    await page.keyboard.press("Enter")
    await page.locator("dialog.move-dialog[open]").wait_for()
    assert await page.evaluate("document.activeElement.id") == "move-slot"
    await page.keyboard.press("Escape")
    await page.locator("dialog.move-dialog").wait_for(state="hidden")
    # The focus goes back to the meeting it left from.
    assert await page.evaluate("document.activeElement.dataset.meeting") == meeting_id


async def test_an_organizer_answers_a_meeting_request_for_its_recipient(
    new_context: ContextFactory, server: Server
) -> None:
    _, page = await signed_in(new_context, server, "meetings")
    accept = page.locator('button[data-action="accept"]').first
    await accept.wait_for()
    request_id = await accept.get_attribute("data-request")
    await accept.click()
    await page.locator(".notice .ok").filter(has_text="已代对方接受").wait_for()
    # Both of its buttons (accept, decline) leave with the pending request.
    assert expect is not None
    await expect(page.locator(f'button[data-request="{request_id}"]')).to_have_count(0)
    with server.client() as client:
        answered = client.get(f"/v1/events/{server.event_id}/meeting-requests/{request_id}").json()
    assert answered["state"] == "accepted"


def job_routes(server: Server, answers: list[str]) -> tuple[str, list[str], Any, Any]:
    """Stand-ins for a build answered 202 and the build resource at its Location, in the shape
    of the jobs branch (GET the build, POST …:cancel): its state moves through answers (the
    last one repeats) until it is cancelled."""
    location = f"/v1/events/{server.event_id}/schedule-builds/console-test"
    calls: list[str] = []

    async def build(route: Any) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        calls.append("POST")
        await route.fulfill(
            status=202,
            headers={"Location": location, "Retry-After": "1"},
            json={"id": "console-test", "state": "queued", "progress": {}},
        )

    async def job(route: Any) -> None:
        if route.request.url.endswith(":cancel"):
            calls.append("cancel")
            answers[:] = ["cancelled"]
            await route.fulfill(json={"id": "console-test", "state": "running"})
            return
        calls.append(route.request.method)
        n = calls.count("GET")
        state = answers[min(n, len(answers)) - 1]
        await route.fulfill(
            json={
                "id": "console-test",
                "state": state,
                "progress": {
                    "stage": "searched",
                    "elapsed_seconds": n * 1.0,
                    "weight": 1000 * n,
                    "weight_bound": 9000,
                    "gap": (9000 - 1000 * n) / 9000,
                },
                "error": "stopped by an organizer" if state == "cancelled" else None,
            }
        )

    return location, calls, build, job


async def test_a_build_answered_202_shows_its_progress_until_the_job_ends(
    new_context: ContextFactory, server: Server
) -> None:
    _, page = await signed_in(new_context, server, "meetings")
    location, calls, build, job = job_routes(server, ["running", "running", "succeeded"])
    await page.route(f"**/v1/events/{server.event_id}/schedule", build)
    await page.route(f"**{location}*", job)
    await page.click("#build")
    running = page.locator(".job").filter(has_text="计算中")
    await running.wait_for()
    assert "当前最佳权重" in await running.inner_text()
    assert await running.locator('[data-figure="weight_bound"]').inner_text() == "9000"
    await page.locator(".job").filter(has_text="已完成").wait_for(timeout=10000)
    assert calls == ["POST", "GET", "GET", "GET"]
    assert await page.locator(".job [data-figure='weight']").inner_text() == "3000"


async def test_a_build_job_can_be_stopped_from_the_console(
    new_context: ContextFactory, server: Server
) -> None:
    _, page = await signed_in(new_context, server, "meetings")
    location, calls, build, job = job_routes(server, ["running"])
    await page.route(f"**/v1/events/{server.event_id}/schedule", build)
    await page.route(f"**{location}*", job)
    await page.click("#build")
    await page.locator(".job").filter(has_text="计算中").wait_for()
    await page.click("#build-cancel")
    ended = page.locator(".job").filter(has_text="已停止")
    await ended.wait_for(timeout=10000)
    assert "cancel" in calls
    assert "stopped by an organizer" in await ended.inner_text()
    assert await ended.locator(".problem").count() == 1  # a stopped build is not a success


async def test_the_report_opens_with_its_charts_and_agreements_show_their_history(
    new_context: ContextFactory, server: Server
) -> None:
    context, page = await signed_in(new_context, server, "agreements")
    intents = page.locator("table.agreements").first.locator("tbody tr")
    await intents.first.wait_for()
    with server.client() as client:
        listed = client.get("/v1/intents", params={"event_id": server.event_id}).json()["items"]
    assert await intents.count() == len(listed)
    await intents.first.locator("button").click()
    history = intents.first.locator("ol.history li")
    await history.first.wait_for()
    assert await history.count() >= 1

    async with context.expect_page() as opened:
        await page.click("#open-report")
    report = await opened.value
    await report.wait_for_selector("html[data-styled]")
    assert report.url.startswith("blob:")
    assert "活动报告" in await report.title()
    charts = report.locator("svg[role=img]")
    assert await charts.count() >= 3
    assert await report.locator("svg rect").count() > 0
    # Its own stylesheet applies though the blob inherits the console's CSP (no inline style).
    header_background = await report.evaluate(
        "getComputedStyle(document.querySelector('th')).backgroundColor"
    )
    assert header_background == "rgb(238, 238, 238)"
    await screenshot(report, "console-report")


async def test_a_party_page_shows_its_recommendations_and_why(
    new_context: ContextFactory, server: Server
) -> None:
    _, page = await signed_in(new_context, server, "directory")
    await page.fill("#directory-q", "机器人")
    await page.press("#directory-q", "Enter")
    link = page.locator('ul.results a[href^="#directory/committee/"]').first
    await link.wait_for()
    await link.click()
    rows = page.locator("table.recommendations tbody tr")
    await rows.first.wait_for()
    assert await rows.count() >= 1
    first = await rows.first.inner_text()
    assert "↔" in first or "文字相近" in first  # the explanation, not only a score
    await screenshot(page, "console-party")


SCREENS = ["today", "meetings", "directory", "agreements"]


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["1280", "tablet"])
async def test_no_serious_or_critical_accessibility_violations_on_any_screen(
    new_context: ContextFactory, server: Server, viewport: dict[str, int]
) -> None:
    context = await new_context(bypass_csp=True, viewport=viewport)
    page = await context.new_page()
    await page.goto("/console")
    await page.locator("#key").wait_for()
    found = {"signin": await axe_violations(page)}
    await page.fill("#key", server.admin_key)
    await page.press("#key", "Enter")
    for screen in SCREENS:
        await page.goto(f"/console#{screen}")
        await page.wait_for_selector(f'nav a[href="#{screen}"][aria-current="page"]')
        await page.wait_for_load_state("networkidle")
        found[screen] = await axe_violations(page)
        await screenshot(page, f"console-{screen}-{viewport['width']}")
    summary = {
        screen: [(v["id"], v["impact"], len(v["nodes"])) for v in violations]
        for screen, violations in found.items()
        if violations
    }
    assert summary == {}, summary
