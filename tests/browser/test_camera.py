"""Camera scanning: Chromium's fake camera shows a badge's QR code, the kiosk reads and checks
it in. Debian's Chromium has no BarcodeDetector on Linux, so this is the vendored jsQR's path."""

from pathlib import Path
from typing import Any

import numpy as np
import segno
from PIL import Image

from tests.browser.conftest import (
    ANSWER,
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    checked_in_at,
    open_kiosk,
)

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - the conftest skips these tests then
    async_playwright = None

WIDTH, HEIGHT = 640, 480


def y4m_of(code: str, path: Path) -> Path:
    """A one-frame Y4M video (what Chromium's fake camera plays) of the code's QR on white."""
    qr = segno.make(code, error="m", micro=False)  # as service/badges.py prints it
    png = path.with_suffix(".png")
    qr.save(str(png), scale=9, border=4)
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    image = Image.open(png).convert("L")
    frame.paste(image, ((WIDTH - image.width) // 2, (HEIGHT - image.height) // 2))
    luma = np.asarray(frame, dtype=np.uint8)
    chroma = np.full((HEIGHT // 2, WIDTH // 2), 128, dtype=np.uint8)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        out.write(b"FRAME\n" + luma.tobytes() + chroma.tobytes() + chroma.tobytes())
    return path


async def test_the_camera_reads_a_badge_and_checks_it_in(
    server: Server, roster: list[dict[str, Any]], unused: Any, tmp_path: Path
) -> None:
    assert async_playwright is not None
    person = next(unused)
    video = y4m_of(person["badge_code"], tmp_path / "badge.y4m")
    camera_args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    key = server.create_key("kiosk", event_id=server.event_id)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + camera_args
        )
        try:
            context = await browser.new_context(base_url=server.url, permissions=["camera"])
            page = await open_kiosk(context, key)
            await page.click("#camera")
            await expect(page.locator("#camera")).to_have_attribute("aria-pressed", "true")
            answer = page.locator(f"{ANSWER}[data-outcome='ok']")
            await expect(answer).to_contain_text(person["people"][0]["name"], timeout=15_000)
            assert await page.evaluate("typeof window.jsQR") == "function"
            await page.click("#camera")  # off again: the stream is stopped
            await expect(page.locator("#camera-panel")).to_be_hidden()
        finally:
            await browser.close()
    assert checked_in_at(server, person) is not None
