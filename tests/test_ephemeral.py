"""`serve --ephemeral`: a throw-away server with the demo and an admin key, ready in seconds."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(client: httpx.Client, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"not ready within {seconds} s"
        time.sleep(0.2)


def test_ephemeral_server_serves_the_demo_with_a_printed_admin_key(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    log = tmp_path / "stderr.txt"
    started = time.monotonic()
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--ephemeral", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not (lines and lines[-1].startswith("smk_")):
            line = server.stdout.readline()
            assert line, f"server ended early: {log.read_text()}"
            lines.append(line.strip())
        key = lines[-1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            _wait_ready(client, seconds=60)
            ready_after = time.monotonic() - started
            committees = client.get(
                "/v1/committees", params={"limit": 500}, headers={"Authorization": f"Bearer {key}"}
            )
            # The demo event is of 2025; an integration suite still checks in to it live.
            admin = {"Authorization": f"Bearer {key}"}
            event = client.get("/v1/events", headers=admin).json()["items"][0]
            url = f"/v1/events/{event['id']}"
            badge = client.get(f"{url}/participants", headers=admin).json()["items"][0]
            scan = client.post(
                f"{url}/checkins", json={"badge_code": badge["badge_code"]}, headers=admin
            )
            assert scan.status_code == 201, scan.text
        assert len(committees.json()["items"]) == 22
        assert any("57 participants" in line for line in lines)
        assert ready_after < 60
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert server.returncode == 0  # SIGTERM is a clean stop
    said = next(line for line in log.read_text().splitlines() if "ephemeral database in" in line)
    assert not Path(said.split("ephemeral database in ")[1].split(",")[0]).exists()
