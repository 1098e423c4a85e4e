"""Browser tests: a real server (`serve --ephemeral`, the demo loaded) and Debian's Chromium driven
by Playwright. They skip, saying why, where /usr/bin/chromium or the playwright package is
missing; `.ci/run` installs Chromium, so in CI they run. Never `playwright install`: the
browser is the system's.

Screenshots go to tests/browser/artifacts/ (git-ignored; CI keeps it as an artifact).
"""

import errno
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import free_port

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Ports this project's servers may use on a shared machine.
PORTS = range(*map(int, os.environ.get("BROWSER_TEST_PORTS", "8100-8150").split("-")))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VENDOR = Path(__file__).resolve().parent / "vendor"

# The async API: the sync one keeps an event loop running between tests, which breaks every
# async test that runs after it in the same session.
try:
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
except ImportError:  # pragma: no cover - depends on the machine
    async_playwright = None

if async_playwright is None:
    MISSING = "browser tests need the playwright package: pip install -e '.[test]'"
elif not CHROMIUM.exists():
    MISSING = (
        f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
        "(.ci/run does this); never `playwright install`"
    )
else:
    MISSING = ""

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not MISSING:
        return
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=MISSING))


@dataclass(frozen=True)
class Server:
    """A running service: its base URL, an admin key, and the demo event's id."""

    url: str
    admin_key: str
    event_id: str

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def create_key(self, role: str, **binding: Any) -> str:
        """A new API key's secret, created through the API by the admin key."""
        body = {"name": f"browser test {role} {uuid.uuid4().hex[:6]}", "role": role, **binding}
        with self.client() as client:
            response = client.post("/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["secret"])


def _free_port() -> int:
    # Any free port unless a range is asked for: two xdist workers picking "the first free one
    # of a range" at once would both pick it, and one's tests would talk to the other's server.
    if "BROWSER_TEST_PORTS" not in os.environ:
        return free_port()
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    continue
                raise
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def _wait_ready(url: str, server: subprocess.Popen[str], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=2) as client:
        while True:
            assert server.poll() is None, "the server stopped before it was ready"
            try:
                if client.get("/readyz").status_code == 200:
                    # Answered by this server, not another one on the port: it is still alive.
                    time.sleep(0.5)
                    assert server.poll() is None, "the server stopped: its port was taken"
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"not ready within {seconds} s"
            time.sleep(0.2)  # polling a starting process; nothing to wait on instead


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m service serve --ephemeral` on a free port of ours, with its printed admin key."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    log = tmp_path_factory.mktemp("server") / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--ephemeral", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
            cwd=ROOT,
        )
    try:
        assert process.stdout is not None
        admin_key = ""
        while not admin_key:
            line = process.stdout.readline()
            assert line, f"server ended early: {log.read_text()}"
            if line.startswith("smk_"):
                admin_key = line.strip()
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process, seconds=90)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=10
        ) as client:
            event_id = client.get("/v1/events").json()["items"][0]["id"]
        yield Server(url=url, admin_key=admin_key, event_id=event_id)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="session")
def published(server: Server) -> None:
    """A built and published schedule, so agendas have meetings to show."""
    with server.client() as client:
        built = client.post(
            f"/v1/events/{server.event_id}/schedule",
            json={"time_limit_seconds": 5},
            headers={"Prefer": "wait=60"},
            timeout=90,
        )
        if built.status_code == 202:  # a build resource to follow (long work, api-conventions)
            location = built.headers["location"]
            deadline = time.monotonic() + 120
            while (state := client.get(location).json()["state"]) in ("queued", "running"):
                assert time.monotonic() < deadline, f"the build is still {state}"
                time.sleep(0.5)  # polling the service's own progress resource
            assert state == "succeeded", state
        else:
            assert built.status_code in (200, 201), built.text
        done = client.post(f"/v1/events/{server.event_id}/schedule:publish")
        assert done.status_code == 200, done.text


@pytest.fixture(scope="session")
def roster(server: Server, published: None) -> list[dict[str, Any]]:
    with server.client() as client:
        items = client.get(
            f"/v1/events/{server.event_id}/participants", params={"limit": 500}
        ).json()["items"]
    return [p for p in items if p["checked_in_at"] is None]


@pytest.fixture(scope="session")
def unused(roster: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Participants no test has scanned yet, one at a time."""
    return iter(roster)


@pytest.fixture(scope="session")
def kiosk_key(server: Server) -> str:
    return server.create_key("kiosk", event_id=server.event_id)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator["Browser"]:
    assert async_playwright is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


ContextFactory = Callable[..., Awaitable["BrowserContext"]]


@pytest.fixture
async def new_context(browser: "Browser", server: Server) -> AsyncIterator[ContextFactory]:
    """Make browser contexts on the server's origin (closed after the test); every request to
    another host fails the test, since nothing may load from elsewhere."""
    contexts: list[BrowserContext] = []
    foreign: list[str] = []

    async def make(**options: Any) -> "BrowserContext":
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "zh-CN")
        options.setdefault("timezone_id", "Asia/Shanghai")
        context = await browser.new_context(base_url=server.url, **options)

        def on_request(request: Any) -> None:
            if not request.url.startswith((server.url, "data:", "blob:")):
                foreign.append(request.url)

        context.on("request", on_request)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()
    assert not foreign, f"pages loaded from another host: {foreign}"


@pytest.fixture
async def page(new_context: ContextFactory) -> "Page":
    return await (await new_context()).new_page()


async def screenshot(page: "Page", name: str) -> Path:
    """Save a full-page screenshot under the git-ignored artifacts folder."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def axe_violations(
    page: "Page", *, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """axe-core's violations of the given impacts on the page as it is now (the context must
    be made with bypass_csp=True: the script is injected inline)."""
    await page.add_script_tag(path=str(VENDOR / "axe-core" / "axe.min.js"))
    result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    # Short enough to read in a failing assertion: the rule, and where and why it failed.
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [(n["target"], n.get("failureSummary", "")) for n in v["nodes"][:5]],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]


# --- the kiosk, as its tests (and the camera's) drive it ---

ANSWER = "#answer"


async def open_kiosk(context: "BrowserContext", key: str) -> "Page":
    """Sign in with the key and wait until the roster copy is loaded."""
    page = await context.new_page()
    await page.goto("/kiosk")
    await page.fill("#signin-key", key)
    await page.press("#signin-key", "Enter")
    await expect(page.locator("#roster-note")).to_contain_text("更新于", timeout=60_000)
    await expect(page.locator("#scan-input")).to_be_focused()
    return page


def checked_in_at(server: Server, participant: dict[str, Any]) -> str | None:
    with server.client() as client:
        path = f"/v1/events/{server.event_id}/participants/{participant['id']}"
        return client.get(path).json()["checked_in_at"]  # type: ignore[no-any-return]
