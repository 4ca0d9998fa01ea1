"""End-to-end in a real browser: the whole platform runs and Chromium walks the portal.

Starts ``ideabank up`` (NATS, the five services, the portal and the demo municipalities) on
free ports in a temporary folder, then runs ``walk.mjs`` with Playwright driving Debian's
Chromium. Screenshots land in ``test-artifacts/screenshots/``. A machine without Chromium,
Node or the npm packages fails here with what to run, unless IDEABANK_SKIP_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = os.environ.get("IDEABANK_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
INSTALL_HINT = (
    "run `bash tools/install-browser.sh` (installs Debian's chromium, playwright-core and axe-core)"
)

pytestmark = pytest.mark.slow


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _require_browser() -> str:
    """Node's path; fails (never skips) when the browser tooling is missing."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM}")
    node = shutil.which("node")
    if node is None:
        missing.append("node")
    for package in ("playwright-core", "axe-core"):
        if not (HERE / "node_modules" / package).is_dir():
            missing.append(f"npm package {package} in tests/browser/node_modules")
    if missing:
        pytest.fail(f"browser tests cannot run, missing: {', '.join(missing)}; {INSTALL_HINT}")
    assert node is not None
    return node


@pytest.fixture(scope="module")
def portal_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running platform with demo data; yields the portal's URL."""
    if os.environ.get("IDEABANK_SKIP_BROWSER") == "1":
        pytest.skip("IDEABANK_SKIP_BROWSER=1")
    _require_browser()
    data = tmp_path_factory.mktemp("platform")
    names = ["intake", "evaluation", "decision", "notification", "reporting", "portal"]
    *service_ports, nats_port = _free_ports(len(names) + 1)
    ports = dict(zip(names, service_ports, strict=True))
    cli = Path(sys.executable).parent / "ideabank"
    log = (data / "up.log").open("wb")
    proc = subprocess.Popen(
        [
            str(cli),
            "up",
            "--data-dir",
            str(data / "data"),
            "--ports",
            ",".join(f"{k}={v}" for k, v in ports.items()),
            "--nats-port",
            str(nats_port),
            "--no-demo-ideas",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{ports['portal']}"
    try:
        deadline = time.monotonic() + 120
        while b"Ideabank is running" not in (data / "up.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"platform did not start:\n{(data / 'up.log').read_text()[-3000:]}")
            time.sleep(0.3)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_portal_walk_in_chromium(portal_url: str) -> None:
    """Demo people walk one idea through its life; languages, tenants, axe and screenshots."""
    node = _require_browser()
    shutil.rmtree(SHOTS, ignore_errors=True)
    run = subprocess.run(
        [node, str(HERE / "walk.mjs"), portal_url, str(SHOTS)],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=HERE,
    )
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("WALK-RESULT ")), None)
    assert line is not None, f"walk did not report:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    result = json.loads(line.removeprefix("WALK-RESULT "))
    assert not result["failures"], json.dumps(result["failures"], indent=2, ensure_ascii=False)
    for step in (
        "employee submits idea",
        "duplicate hints",
        "ambassador screens",
        "management decides",
        "implemented and evaluated",
        "offered to the network",
        "idea giver sees timeline",
        "language switch",
        "tenant separation",
        "another municipality adopts",
        "public channel",
    ):
        assert step in result["reached"], step
    assert all(v["serious"] == 0 for v in result["axe"].values()), result["axe"]
    assert len(result["axe"]) >= 20
    assert len(list(SHOTS.glob("*.png"))) >= 20
    assert run.returncode == 0
