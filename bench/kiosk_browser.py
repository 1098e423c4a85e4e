"""The kiosk in a real browser: first load, time to interactive, and scan to answer.

    .venv/bin/python -m bench.kiosk_browser [--scans 200] [--port 8100]

Starts `python -m service serve --ephemeral` (SQLite, the demo event) on a port in 8100-8149,
builds and publishes a schedule so answers carry agendas, and drives Debian's Chromium
(/usr/bin/chromium) headless through Playwright:

- first load: a fresh browser context opens /kiosk; the bytes on the wire (compressed bodies plus
  headers) of the page and its files, then, after sign-in, of the API calls that fetch the roster
  copy; time to interactive is when the sign-in field has focus, from navigation start, and the
  desk's scan field after the key is submitted;
- scan to answer: the badge code goes into the scan field and the form is submitted, as a
  handheld scanner's Enter does; the time runs to the frame after the answer is on screen
  (`requestAnimationFrame` after the answer's DOM changed). The 57 parties' badges in turn:
  first check-ins, then repeats, and every tenth an unknown code.

Goals (issue 21): first load under 300 KB compressed, scan-to-answer p99 under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.load import machine

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
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
UNKNOWN = "AAAAA-AAAAA"

# Resolve with the time (ms from navigation start) of the kiosk's performance mark, once it exists.
MARK_JS = """
(name) => new Promise((resolve) => {
  const look = () => {
    const [mark] = performance.getEntriesByName(name, "mark");
    if (mark) resolve(mark.startTime); else requestAnimationFrame(look);
  };
  look();
})
"""

# Submit one code and resolve with the milliseconds until the frame after the answer changed.
SCAN_JS = """
async (code) => {
  const answer = document.getElementById("answer");
  const input = document.getElementById("scan-input");
  answer.dataset.outcome = "waiting";
  const changed = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const outcome = answer.dataset.outcome;
      if (outcome && outcome !== "waiting" && !outcome.startsWith("pending")) {
        observer.disconnect();
        requestAnimationFrame(() => resolve(outcome));
      }
    });
    observer.observe(answer, { attributes: true, childList: true });
  });
  const start = performance.now();
  input.value = code;
  input.form.requestSubmit();
  const outcome = await changed;
  const elapsed = performance.now() - start;
  const posts = performance
    .getEntriesByType("resource")
    .filter((e) => e.name.endsWith("/checkins"));
  const request = posts.length ? posts[posts.length - 1].duration : null;
  performance.clearResourceTimings();
  return [elapsed, outcome, request];
}
"""


def free_port(start: int) -> int:
    for port in range(start, 8150):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8100-8149")


def serve(port: int) -> tuple[subprocess.Popen[str], str]:
    """An ephemeral server and its admin key, once /readyz answers."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--ephemeral", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert process.stdout is not None
    key = ""
    while not key:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the server stopped before printing its key")
        if line.startswith("smk_"):
            key = line.strip()
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        while True:
            try:
                if client.get("/readyz").status_code == 200:
                    return process, key
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server was not ready within 120 s")
            time.sleep(0.2)


def prepare(url: str, admin_key: str) -> tuple[str, list[str]]:
    """A kiosk key for the demo event with a published schedule; the parties' badge codes."""
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=120
    ) as client:
        event = client.get("/v1/events").json()["items"][0]["id"]
        built = client.post(
            f"/v1/events/{event}/schedule",
            json={"time_limit_seconds": 10},
            headers={"Prefer": "wait=60"},
        )
        if built.status_code == 202:  # a build resource: follow it to its end
            while client.get(built.headers["location"]).json()["state"] in ("queued", "running"):
                time.sleep(0.5)
        else:
            assert built.status_code in (200, 201), built.text
        client.post(f"/v1/events/{event}/schedule:publish").raise_for_status()
        key = client.post(
            "/v1/api-keys", json={"name": "bench kiosk", "role": "kiosk", "event_id": event}
        ).json()["secret"]
        participants = client.get(f"/v1/events/{event}/participants", params={"limit": 500}).json()[
            "items"
        ]
    return key, [p["badge_code"] for p in participants]


def wire_bytes(responses: list[Any]) -> tuple[int, int]:
    return len(responses), sum(size for _, size in responses)


async def measure(url: str, kiosk_key: str, codes: list[str], scans: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(
            base_url=url, viewport={"width": 1280, "height": 800}, service_workers="block"
        )
        page = await context.new_page()
        seen: list[tuple[str, int]] = []

        async def on_finished(request: Any) -> None:
            sizes = await request.sizes()
            seen.append((request.url, sizes["responseBodySize"] + sizes["responseHeadersSize"]))

        page.on("requestfinished", on_finished)
        await page.goto("/kiosk")
        interactive_ms = await page.evaluate(MARK_JS, "kiosk:signin-ready")
        shell = list(seen)

        await page.fill("#signin-key", kiosk_key)
        submitted = await page.evaluate("performance.now()")
        await page.press("#signin-key", "Enter")
        desk_ms = await page.evaluate(MARK_JS, "kiosk:desk-ready") - submitted
        roster_ms = await page.evaluate(MARK_JS, "kiosk:roster-ready") - submitted
        api = [s for s in seen[len(shell) :] if "/v1/" in s[0]]

        times: list[float] = []
        requests: list[float] = []
        outcomes: dict[str, int] = {}
        await page.evaluate("performance.clearResourceTimings()")
        for i in range(scans):
            code = UNKNOWN if i % 10 == 9 else codes[i % len(codes)]
            elapsed, outcome, request = await page.evaluate(SCAN_JS, code)
            times.append(elapsed)
            if request is not None:
                requests.append(request)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        await browser.close()
    times.sort()
    requests.sort()
    return {
        "requests": requests,
        "shell": wire_bytes(shell),
        "api": wire_bytes(api),
        "interactive_ms": interactive_ms,
        "desk_ms": desk_ms,
        "roster_ms": roster_ms,
        "times": times,
        "outcomes": outcomes,
    }


def p99(values: list[float]) -> float:
    """The 99th percentile of sorted values (nearest rank)."""
    return values[min(len(values) - 1, max(0, round(0.99 * len(values)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--port", type=int, default=8100, help="first port to try (to 8149)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Chromium at {CHROMIUM}: apt-get install -y chromium")

    port = free_port(args.port)
    process, admin_key = serve(port)
    try:
        url = f"http://127.0.0.1:{port}"
        kiosk_key, codes = prepare(url, admin_key)
        result = asyncio.run(measure(url, kiosk_key, codes, args.scans))
    finally:
        process.terminate()
        process.communicate(timeout=30)

    times, requests = result["times"], result["requests"]
    shell_n, shell_bytes = result["shell"]
    api_n, api_bytes = result["api"]
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"first load: {shell_bytes / 1024:.1f} KB on the wire in {shell_n} requests "
        f"(page, styles, scripts; goal < 300 KB)"
    )
    print(
        f"roster copy after sign-in: {api_bytes / 1024:.1f} KB in {api_n} API requests "
        f"(the sign-in's, then the participants and all their agendas, a page each: "
        f"{len(codes)} participants)"
    )
    print(f"time to interactive: {result['interactive_ms']:.0f} ms (sign-in field focused)")
    print(
        f"sign-in to desk: {result['desk_ms']:.0f} ms; roster copy complete after "
        f"{result['roster_ms']:.0f} ms"
    )
    print(
        f"scan to answer over {len(times)} scans: median {statistics.median(times):.0f} ms, "
        f"p99 {p99(times):.0f} ms, max {times[-1]:.0f} ms (goal p99 < 300 ms); outcomes "
        + ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items()))
    )
    if requests:
        print(
            f"  of which the POST /checkins round trip: median {statistics.median(requests):.0f}"
            f" ms, p99 {p99(requests):.0f} ms (resource timing, {len(requests)} requests)"
        )


if __name__ == "__main__":
    main()
