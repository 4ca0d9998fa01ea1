"""The whole platform as `make run` starts it: `ideabank up` on free ports, with demo data."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ideabank_infra.testing import free_port

SERVICES = ("intake", "evaluation", "decision", "notification", "reporting")


@dataclass
class Platform:
    data_dir: Path
    ports: dict[str, int]
    nats_port: int
    proc: subprocess.Popen[bytes]
    ready_after: float

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def token(self, *args: str) -> str:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "ideabank_cli.main",
                "token",
                "--data-dir",
                str(self.data_dir),
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


@contextlib.contextmanager
def running_platform(data_dir: Path) -> Iterator[Platform]:
    """``ideabank up`` on free ports over ``data_dir``; stopped with Ctrl-C afterwards."""
    ports = {name: free_port() for name in (*SERVICES, "portal")}
    nats_port = free_port()
    log_path = data_dir / "up.log"
    log = log_path.open("ab")
    started = time.monotonic()
    offset = log_path.stat().st_size
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ideabank_cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--nats-port",
            str(nats_port),
            "--no-demo-ideas",
            "--ports",
            ",".join(f"{k}={v}" for k, v in ports.items()),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = started + 90
        while True:
            try:
                if (
                    all(
                        httpx.get(f"http://127.0.0.1:{ports[s]}/readyz", timeout=1).status_code
                        == 200
                        for s in SERVICES
                    )
                    and "Ideabank is running" in log_path.read_text()[offset:]
                ):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("platform not ready in 90 s:\n" + log_path.read_text()[offset:])
            time.sleep(0.3)
        yield Platform(data_dir, ports, nats_port, proc, time.monotonic() - started)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


def test_a_second_start_keeps_the_data(tmp_path: Path) -> None:
    with running_platform(tmp_path) as first:
        token = first.token("--tenant", "pitea", "--roles", "tenant_admin")
        before = httpx.get(
            f"{first.url('intake')}/v1/admin/tenancy", headers={"Authorization": f"Bearer {token}"}
        ).json()
    log = (tmp_path / "up.log").read_text()
    assert "Stopped. Data kept in" in log
    with running_platform(tmp_path) as second:
        after = httpx.get(
            f"{second.url('intake')}/v1/admin/tenancy", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert after == before
    assert "Demo data already loaded." in (tmp_path / "up.log").read_text()


def test_all_services_ready_within_90_seconds(platform: Platform) -> None:
    assert platform.ready_after < 90
    for name in SERVICES:
        body = httpx.get(f"{platform.url(name)}/healthz").json()
        assert body["service"] == name
        metrics = httpx.get(f"{platform.url(name)}/metrics").text
        assert "ideabank_http_requests_total" in metrics


def test_minted_token_is_accepted_by_every_service(platform: Platform) -> None:
    token = platform.token("--tenant", "boras", "--roles", "employee", "--person", "boras-p012")
    for name in SERVICES:
        resp = httpx.get(
            f"{platform.url(name)}/v1/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 200, (name, resp.text)
        assert resp.json()["tenant"] == "boras"
        assert resp.json()["org_unit"] == "boras-hemtjanst-syd"
        anonymous = httpx.get(f"{platform.url(name)}/v1/me")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"


def test_expired_and_forged_tokens_are_refused_by_every_service(platform: Platform) -> None:
    expired = platform.token("--tenant", "boras", "--roles", "employee", "--ttl", "-120")
    header, payload, signature = platform.token("--tenant", "boras", "--roles", "employee").split(
        "."
    )
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for name in SERVICES:
        for token in (expired, forged):
            resp = httpx.get(
                f"{platform.url(name)}/v1/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert resp.status_code == 401, (name, resp.text)


def test_demo_data_holds_the_five_network_municipalities(platform: Platform) -> None:
    for tenant in ("boras", "malung-salen", "motala", "pitea", "vetlanda"):
        token = platform.token("--tenant", tenant, "--roles", "tenant_admin")
        resp = httpx.get(
            f"{platform.url('intake')}/v1/admin/tenancy",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 200
        tenancy = resp.json()
        assert tenancy["networks"] == ["skl-idenatverk"]
        kinds = {u["kind"] for u in tenancy["org_units"]}
        assert kinds == {"administration", "department", "unit"}
        roles = {r for p in tenancy["people"] for r in p["roles"]}
        assert roles >= {
            "employee",
            "ambassador",
            "innovation_group",
            "unit_manager",
            "department_manager",
            "management",
            "implementer",
            "communicator",
            "tenant_admin",
            "network_coordinator",
        }
        assert tenancy["headcounts"] and tenancy["targets"]
