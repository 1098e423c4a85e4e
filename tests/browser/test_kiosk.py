"""The door kiosk in Chromium against a real server: scans, search, offline, accessibility.

Every test takes participants no other test has used, so they share the server's database
without meeting.
"""

import asyncio
import contextlib
import itertools
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypinyin import lazy_pinyin

from tests.browser.conftest import (
    ANSWER,
    ContextFactory,
    Server,
    axe_violations,
    checked_in_at,
    open_kiosk,
    screenshot,
)

with contextlib.suppress(ImportError):  # without it, the conftest skips these tests
    from playwright.async_api import Page, Route, expect

ZONE = ZoneInfo("Asia/Shanghai")
UNKNOWN_CODE = "AAAAA-AAAAA"  # the badge alphabet, but no badge has it
# Resolves once a service worker controls the page (evaluated over CDP: the page's CSP forbids
# the eval that wait_for_function would need).
CONTROLLED_JS = """
() => new Promise((resolve) => {
  if (navigator.serviceWorker.controller) resolve(true);
  navigator.serviceWorker.addEventListener("controllerchange", () => resolve(true));
})
"""


async def scan(page: "Page", code: str, outcome: str) -> None:
    await page.fill("#scan-input", code)
    await page.press("#scan-input", "Enter")
    await expect(page.locator(f"{ANSWER}[data-outcome='{outcome}']")).to_be_visible()


def local_hhmm(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZONE).strftime("%H:%M")


def agenda_of(server: Server, participant: dict[str, Any]) -> list[dict[str, Any]]:
    with server.client() as client:
        path = f"/v1/events/{server.event_id}/participants/{participant['id']}/agenda"
        return list(client.get(path).json()["meetings"])


async def expect_agenda(answer: Any, agenda: list[dict[str, Any]]) -> None:
    """The answer shows these meetings, one row each: the time and the counterpart."""
    rows = answer.locator(".agenda tbody tr")
    await expect(rows).to_have_count(len(agenda))
    for at, meeting in enumerate(agenda):
        row = rows.nth(at)
        await expect(row).to_contain_text(
            f"{local_hhmm(meeting['start'])}–{local_hhmm(meeting['end'])}"
        )
        await expect(row).to_contain_text(meeting["counterpart"]["name_zh"])


def scans_of(server: Server, codes: set[str]) -> list[dict[str, Any]]:
    with server.client() as client:
        items = client.get(f"/v1/events/{server.event_id}/scans", params={"limit": 500}).json()[
            "items"
        ]
    return [s for s in items if s["badge_code"] in codes]


async def test_first_scan_green_repeat_amber_unknown_red(
    new_context: ContextFactory,
    server: Server,
    kiosk_key: str,
    unused: Iterator[dict[str, Any]],
) -> None:
    person = next(p for p in unused if agenda_of(server, p))
    page = await open_kiosk(await new_context(), kiosk_key)
    answer = page.locator(ANSWER)

    await scan(page, person["badge_code"].replace("-", "").lower(), "ok")
    await expect(answer).to_contain_text("签到成功")
    await expect(answer).to_contain_text("Checked in")
    await expect(answer).to_contain_text(person["people"][0]["name"])
    await expect(answer).to_contain_text(person["party"]["name_zh"])
    agenda = agenda_of(server, person)
    await expect_agenda(answer, agenda)
    first = agenda[0]
    await expect(answer.locator(".first")).to_contain_text(f"{first['table']} 号桌")
    assert await answer.get_attribute("data-sound") == "ok"
    arrived = checked_in_at(server, person)
    assert arrived is not None

    await scan(page, person["badge_code"], "repeat")
    await expect(answer).to_contain_text(f"已于 {local_hhmm(arrived)} 签到")
    await expect(answer).to_contain_text(f"Already checked in at {local_hhmm(arrived)}")
    assert await answer.get_attribute("data-sound") == "repeat"

    await page.click("#sound")  # sound off: the answers still come, silently
    await expect(page.locator("#sound")).to_have_attribute("aria-pressed", "false")
    await page.focus("#scan-input")
    await scan(page, UNKNOWN_CODE, "unknown")
    await expect(answer).to_contain_text("无此胸卡")
    await expect(answer).to_contain_text("Unknown badge")
    assert await answer.get_attribute("data-sound") == "off"

    outcomes = [s["outcome"] for s in scans_of(server, {person["badge_code"], UNKNOWN_CODE})]
    assert sorted(outcomes) == ["already_checked_in", "checked_in", "unknown_badge"]


async def test_search_by_pinyin_then_check_in_with_the_keyboard(
    new_context: ContextFactory,
    server: Server,
    kiosk_key: str,
    unused: Iterator[dict[str, Any]],
) -> None:
    person = next(unused)
    name = person["people"][0]["name"]
    pinyin = "".join(lazy_pinyin(name))
    page = await open_kiosk(await new_context(), kiosk_key)

    await page.fill("#search-input", pinyin)
    hit = page.locator(f".result[data-code='{person['badge_code']}']")
    await expect(hit).to_be_visible()
    await expect(hit).to_contain_text(name)
    await hit.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(f"{ANSWER}[data-outcome='ok']")).to_contain_text(name)
    await expect(page.locator("#scan-input")).to_be_focused()
    assert checked_in_at(server, person) is not None


async def test_offline_scans_queue_survive_a_reload_and_upload_once(
    new_context: ContextFactory,
    server: Server,
    kiosk_key: str,
    unused: Iterator[dict[str, Any]],
) -> None:
    people = list(itertools.islice((p for p in unused if agenda_of(server, p)), 3))
    codes = {p["badge_code"] for p in people}
    context = await new_context()
    page = await open_kiosk(context, kiosk_key)
    answer = page.locator(ANSWER)
    waiting = page.locator("#waiting")
    # The service worker keeps the page for a reload without the network.
    await page.evaluate(CONTROLLED_JS)

    await context.set_offline(True)
    await expect(page.locator("#net")).to_contain_text("离线")
    scanned_from = time.time()
    for person in people:
        await scan(page, person["badge_code"], "pending-ok")
        await expect(answer).to_contain_text("尚未经服务器确认")
        await expect(answer).to_contain_text(person["people"][0]["name"])
        # Their agenda, from the roster copy.
        await expect_agenda(answer, agenda_of(server, person))
    await expect(waiting).to_have_attribute("data-count", "3")
    await expect(waiting).to_contain_text("待上传 3")
    # A repeat is caught from the roster copy, and is no check-in either.
    await scan(page, people[0]["badge_code"], "pending-repeat")
    await expect(waiting).to_have_attribute("data-count", "4")
    await screenshot(page, "kiosk-offline-1280x800")
    await page.reload()
    await expect(waiting).to_have_attribute("data-count", "4")
    await expect(page.locator("#net")).to_contain_text("离线")
    await expect(page.locator("#roster-note")).to_contain_text("57")

    # The network is back but the service is not; the first upload even reaches it and only
    # its answer is lost, so its retry must not count twice.
    lost: list[str] = []

    async def service_away(route: "Route") -> None:
        if route.request.method == "POST" and not lost:
            await route.fetch()
            lost.append(route.request.post_data or "")
        await route.abort("connectionrefused")

    await context.route("**/v1/**", service_away)
    posted = page.expect_event("requestfailed", lambda r: r.method == "POST")
    async with posted:
        await context.set_offline(False)
    assert len(lost) == 1
    await expect(waiting).to_have_attribute("data-count", "4")
    await expect(page.locator("#net")).to_contain_text("离线")

    await context.unroute("**/v1/**")
    await context.set_offline(True)
    await context.set_offline(False)  # the browser says "online" again: the queue uploads
    await expect(waiting).to_have_attribute("data-count", "0", timeout=15_000)
    await expect(page.locator("#net")).to_contain_text("在线")

    recorded = scans_of(server, codes)
    assert sorted(s["outcome"] for s in recorded) == ["already_checked_in"] + ["checked_in"] * 3
    for person in people:
        arrived = checked_in_at(server, person)
        assert arrived is not None
        # The time kept is when the badge was scanned offline, not when it was uploaded.
        assert scanned_from - 1 <= datetime.fromisoformat(arrived).timestamp() <= time.time()


async def test_offline_refusals_are_shown_once_the_service_answers(
    new_context: ContextFactory, server: Server, kiosk_key: str
) -> None:
    context = await new_context()
    page = await open_kiosk(context, kiosk_key)
    await context.set_offline(True)
    await scan(page, UNKNOWN_CODE, "pending-unknown")
    await expect(page.locator(ANSWER)).to_contain_text("不在名单上")
    await page.fill("#scan-input", "")
    await page.keyboard.press("Escape")
    await expect(page.locator(f"{ANSWER}.idle")).to_be_visible()
    await context.set_offline(False)
    # The current answer was dismissed: the refusal goes to the list the staff must see.
    refused = page.locator("#refused")
    await expect(refused).to_be_visible()
    await expect(refused).to_contain_text(UNKNOWN_CODE)
    await expect(refused).to_contain_text("无此胸卡")
    await page.click("#refused-clear")
    await expect(refused).to_be_hidden()


async def test_a_partner_key_and_a_wrong_key_are_refused(
    new_context: ContextFactory, server: Server, roster: list[dict[str, Any]]
) -> None:
    page = await (await new_context()).new_page()
    await page.goto("/kiosk")
    await page.fill("#signin-key", "smk_wrong")
    await page.press("#signin-key", "Enter")
    await expect(page.locator("#signin-error")).to_contain_text("密钥无效")
    assert await page.evaluate("sessionStorage.length") == 0
    assert "smk_wrong" not in page.url

    committee = next(p["party"] for p in roster if p["party"]["kind"] == "committee")
    partner = server.create_key("partner", committee_id=committee["id"])
    await page.fill("#signin-key", partner)
    await page.press("#signin-key", "Enter")
    await expect(page.locator("#signin-error")).to_contain_text("请使用签到密钥")
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.locator("#desk").is_hidden()


@pytest.mark.parametrize("size", [(1280, 800), (768, 1024)], ids=["1280x800", "768x1024"])
async def test_kiosk_is_accessible_and_screenshots_are_kept(
    size: tuple[int, int],
    new_context: ContextFactory,
    server: Server,
    kiosk_key: str,
    unused: Iterator[dict[str, Any]],
) -> None:
    width, height = size
    context = await new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = await context.new_page()
    await page.goto("/kiosk")
    assert await axe_violations(page) == []
    await screenshot(page, f"kiosk-signin-{width}x{height}")

    page = await open_kiosk(context, kiosk_key)
    person = next(p for p in unused if agenda_of(server, p))
    await scan(page, person["badge_code"], "ok")
    assert await axe_violations(page) == []
    await screenshot(page, f"kiosk-green-{width}x{height}")
    await scan(page, person["badge_code"], "repeat")
    assert await axe_violations(page) == []
    await screenshot(page, f"kiosk-amber-{width}x{height}")
    await scan(page, UNKNOWN_CODE, "unknown")
    assert await axe_violations(page) == []
    await screenshot(page, f"kiosk-red-{width}x{height}")
    await page.fill("#search-input", person["people"][0]["name"][:1])
    await expect(page.locator(".result").first).to_be_visible()
    assert await axe_violations(page) == []
    await screenshot(page, f"kiosk-search-{width}x{height}")


async def test_a_badge_prints_with_its_qr_code_name_and_code(
    new_context: ContextFactory, server: Server, kiosk_key: str, roster: list[dict[str, Any]]
) -> None:
    person = roster[-1]  # printing changes nothing, so any participant will do
    page = await open_kiosk(await new_context(), kiosk_key)
    # As a function: an expression whose value is a function would be called by evaluate.
    await page.evaluate(
        "() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }"
    )
    await page.select_option("#badge-size", "90x54")
    await page.fill("#search-input", person["badge_code"])
    hit = page.locator(".results li").filter(
        has=page.locator(f".result[data-code='{person['badge_code']}']")
    )
    await hit.locator(".print").click()
    card = page.locator("#badge-print .badge-card")
    await expect(card).to_have_attribute("data-size", "90x54")
    await expect(card).to_contain_text(person["badge_code"])
    await expect(card).to_contain_text(person["people"][0]["name"])
    await expect(card).to_contain_text(person["party"]["name_zh"])
    assert await page.evaluate("window.printed") == 1
    qr = card.locator("img.badge-qr")
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    await page.emulate_media(media="print")
    await expect(card).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()
    await card.screenshot(
        path=str((await screenshot(page, "badge-90x54")).with_suffix(".card.png"))
    )


def revoke(server: Server, secret: str) -> None:
    with server.client() as client:
        keys = client.get("/v1/api-keys", params={"limit": 500}).json()["items"]
        (key,) = [k for k in keys if k["prefix"] == secret[:8]]
        assert client.delete(f"/v1/api-keys/{key['id']}").status_code == 204


async def test_a_revoked_key_asks_for_another_and_the_scan_waits_for_it(
    new_context: ContextFactory, server: Server, unused: Iterator[dict[str, Any]]
) -> None:
    person = next(unused)
    first = server.create_key("kiosk", event_id=server.event_id)
    page = await open_kiosk(await new_context(), first)
    revoke(server, first)
    await page.fill("#scan-input", person["badge_code"])
    await page.press("#scan-input", "Enter")
    await expect(page.locator("#signin-error")).to_contain_text("密钥无效或已吊销")
    assert checked_in_at(server, person) is None

    await page.fill("#signin-key", server.create_key("kiosk", event_id=server.event_id))
    await page.press("#signin-key", "Enter")
    await expect(page.locator("#waiting")).to_have_attribute("data-count", "0")
    # The waiting scan is answered as soon as a key the service takes is there.
    answer = page.locator(f"{ANSWER}[data-outcome='ok']")
    await expect(answer).to_contain_text(person["people"][0]["name"])
    assert checked_in_at(server, person) is not None
    assert [s["outcome"] for s in scans_of(server, {person["badge_code"]})] == ["checked_in"]


class AcrossASignOut:
    """Holds a kiosk's requests so that they are answered in this order: those sent with the
    key once the desk has signed out, then those sent after, with no key, once the next key is
    signed in."""

    def __init__(self) -> None:
        self.signed_out, self.keyless_sent, self.signed_in_again = (
            asyncio.Event(),
            asyncio.Event(),
            asyncio.Event(),
        )

    async def hold(
        self, page: "Page", pattern: "str | re.Pattern[str]", *, method: str | None = None
    ) -> None:
        async def in_that_order(route: "Route") -> None:
            if method is None or route.request.method == method:
                if "authorization" in route.request.headers:
                    await self.signed_out.wait()
                else:
                    self.keyless_sent.set()
                    await self.signed_in_again.wait()
            await route.continue_()

        await page.route(pattern, in_that_order)

    async def sign_out_and_in(self, page: "Page", key: str) -> None:
        await page.click("#signout")
        self.signed_out.set()
        await asyncio.wait_for(self.keyless_sent.wait(), 10)
        await page.fill("#signin-key", key)
        await page.press("#signin-key", "Enter")
        await expect(page.locator("#scan-input")).to_be_focused()


async def test_signing_out_while_the_roster_loads_leaves_the_next_key_signed_in(
    new_context: ContextFactory, server: Server, kiosk_key: str
) -> None:
    """The roster goes on after a sign-out: its list of participants, asked for with the key,
    is answered after it, and the agendas are then asked for with no key and answered 401.
    That answer is about no key: the next person's key, signed in meanwhile, stays."""
    page = await (await new_context()).new_page()
    race = AcrossASignOut()
    await race.hold(page, re.compile(r"/v1/events/[^/]+/(participants|agendas)\?"))
    await page.goto("/kiosk")
    await page.fill("#signin-key", kiosk_key)
    await page.press("#signin-key", "Enter")
    await expect(page.locator("#scan-input")).to_be_focused()
    await race.sign_out_and_in(page, kiosk_key)
    async with page.expect_response(lambda response: response.status == 401) as refused:
        race.signed_in_again.set()
    keyless = await refused.value
    assert "authorization" not in keyless.request.headers
    await keyless.finished()
    # What the page does with that answer, it has done within this while (a refusal used to
    # clear the key and show the sign-in form at once).
    await page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 500))")
    assert await page.locator("#signin").is_hidden()
    await expect(page.locator("#roster-note")).to_contain_text("更新于", timeout=60_000)
    await expect(page.locator("#scan-input")).to_be_focused()


async def test_scans_queued_across_a_sign_out_upload_with_the_next_key(
    new_context: ContextFactory,
    server: Server,
    kiosk_key: str,
    unused: Iterator[dict[str, Any]],
) -> None:
    """The upload goes on after a sign-out, its next scan now sent with no key and refused;
    that refusal is about no key, and the scan waiting is uploaded with the key signed in."""
    first, second = next(unused), next(unused)
    page = await open_kiosk(await new_context(), kiosk_key)
    race = AcrossASignOut()
    await race.hold(page, "**/checkins", method="POST")
    for person in (first, second):
        await page.fill("#scan-input", person["badge_code"])
        await page.press("#scan-input", "Enter")
    await race.sign_out_and_in(page, kiosk_key)
    race.signed_in_again.set()
    await expect(page.locator("#waiting")).to_have_attribute("data-count", "0", timeout=15_000)
    assert await page.locator("#signin").is_hidden()
    assert checked_in_at(server, first) is not None
    assert checked_in_at(server, second) is not None


async def test_a_scan_at_an_event_not_open_is_red_with_the_reason(
    new_context: ContextFactory, server: Server, roster: list[dict[str, Any]]
) -> None:
    committee = next(p["party"] for p in roster if p["party"]["kind"] == "committee")
    slot = {"start": "2025-10-09T09:00:00+08:00", "end": "2025-10-09T09:20:00+08:00"}
    with server.client() as client:
        event = client.post(
            "/v1/events",
            json={
                "name_zh": "筹备中的对接会",
                "venue": "温州",
                "date": "2025-10-09",
                "slots": [slot],
                "tables": 2,
            },
        ).json()
        assert event["state"] == "draft"
        participant = client.post(
            f"/v1/events/{event['id']}/participants",
            json={"committee_id": committee["id"], "people": [{"name": "测试代表"}]},
        ).json()
    key = server.create_key("kiosk", event_id=event["id"])
    page = await open_kiosk(await new_context(), key)
    await expect(page.locator("#event-name")).to_contain_text("筹备中的对接会")
    await scan(page, participant["badge_code"], "refused")
    await expect(page.locator(ANSWER)).to_contain_text("活动尚未开放签到")
    await expect(page.locator(ANSWER)).to_contain_text("The event is not open for check-in")
    assert checked_in_at_event(server, event["id"], participant["id"]) is None


def checked_in_at_event(server: Server, event_id: str, participant_id: str) -> str | None:
    with server.client() as client:
        path = f"/v1/events/{event_id}/participants/{participant_id}"
        return client.get(path).json()["checked_in_at"]  # type: ignore[no-any-return]


async def test_an_admin_key_opens_the_open_event(
    new_context: ContextFactory, server: Server
) -> None:
    page = await open_kiosk(await new_context(), server.admin_key)
    with server.client() as client:
        demo = client.get(f"/v1/events/{server.event_id}").json()
    await expect(page.locator("#event-name")).to_contain_text(demo["name_zh"])
    # The roster copy holds no phone or email, though an admin key may read them.
    stored = await page.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.startsWith('smk.kiosk.roster.'))"
        ".map((k) => localStorage.getItem(k)).join('')"
    )
    assert '"people"' in stored
    assert '"phone"' not in stored and '"email"' not in stored


async def test_a_walk_in_is_registered_badged_and_checked_in_at_the_door(
    new_context: ContextFactory, server: Server, kiosk_key: str, roster: list[dict[str, Any]]
) -> None:
    # A plain kiosk key cannot register anyone, so the form is not offered to it.
    page = await open_kiosk(await new_context(), kiosk_key)
    await expect(page.locator("#walkin")).to_be_hidden()

    door_key = server.create_key("kiosk", event_id=server.event_id, permissions=["walk_in"])
    context = await new_context(bypass_csp=True)
    page = await open_kiosk(context, door_key)
    await page.evaluate(
        "() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }"
    )
    # From the keyboard: Space presses the focused button (it is not sent to the scan field).
    await page.focus("#walkin-open")
    await page.keyboard.press("Space")
    await expect(page.locator("#walkin-org")).to_be_focused()
    organization = f"温州门前检测研究院{uuid.uuid4().hex[:6]}"
    await page.fill("#walkin-org", organization)
    await page.select_option("#walkin-kind", "institute")
    # The name left empty is named at its field, before anything is sent.
    await page.click("#walkin-form button[type=submit]")
    await expect(page.locator("#walkin-name")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#walkin-name-error")).to_contain_text("必填")
    await expect(page.locator("#walkin-name")).to_be_focused()
    # What the service refuses is named at its field too.
    await page.fill("#walkin-name", "麦晓岚")
    await page.fill("#walkin-role", "副所长")
    await page.fill("#walkin-phone", "call me")
    await page.press("#walkin-phone", "Enter")
    await expect(page.locator("#walkin-phone")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#walkin-phone-error")).to_contain_text("手机号只能含数字")
    await expect(page.locator("#walkin-name")).not_to_have_attribute("aria-invalid", "true")
    assert await axe_violations(page) == []
    await screenshot(page, "kiosk-walk-in-form-1280x800")

    await page.fill("#walkin-phone", "138 5777 0199")
    await page.press("#walkin-phone", "Enter")
    done = page.locator("#walkin-done")
    await expect(done).to_contain_text("已登记")
    await expect(page.locator("#walkin-form")).to_be_hidden()
    code = await done.locator("li").first.get_attribute("data-code")
    assert code
    await expect(done).to_contain_text(f"麦晓岚 · {code}")
    await expect(done).to_contain_text(organization)
    assert await axe_violations(page) == []
    await screenshot(page, "kiosk-walk-in-done-1280x800")

    # The service has them: a new organization, registered for the event, the person badged.
    with server.client() as client:
        found = client.get(
            f"/v1/events/{server.event_id}/participants", params={"q": organization}
        ).json()["items"]
    (participant,) = found
    assert participant["party"]["kind"] == "institute"
    assert [(p["name"], p["badge_code"]) for p in participant["people"]] == [("麦晓岚", code)]

    # A handheld scanner typing while the new badge's "Check in" has focus scans into the
    # scan field: its Enter does not press that button.
    await expect(done.locator(".walkin-checkin")).to_be_focused()
    await page.keyboard.type(UNKNOWN_CODE)
    await page.keyboard.press("Enter")
    await expect(page.locator(f"{ANSWER}[data-outcome='unknown']")).to_be_visible()

    # Their badge prints with their own code, and the door checks them in.
    await done.locator(".print").click()
    card = page.locator("#badge-print .badge-card")
    await expect(card).to_contain_text(code)
    await expect(card).to_contain_text("麦晓岚")
    assert await page.evaluate("window.printed") == 1
    await done.locator(".walkin-checkin").click()
    await expect(page.locator(f"{ANSWER}[data-outcome='ok']")).to_contain_text("麦晓岚")
    assert checked_in_at(server, participant) is not None
    assert [s["outcome"] for s in scans_of(server, {code})] == ["checked_in"]

    # The next person at the desk does not see who was registered before.
    await page.click("#signout")
    await page.fill("#signin-key", door_key)
    await page.press("#signin-key", "Enter")
    await expect(page.locator("#walkin-open")).to_be_visible()
    await expect(page.locator("#walkin-done")).to_be_hidden()
    assert await page.locator("#walkin-done li").count() == 0
