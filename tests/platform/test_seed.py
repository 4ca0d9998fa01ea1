"""Loading the demo data: what a stop in the middle leaves."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ideabank_cli import demo_ideas, platform, seed


def test_a_stop_while_loading_keeps_what_was_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> int:
        print("  demo ideas: 40/1200 walked through their lifecycle", end="", flush=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_ideas, "load_demo_ideas", interrupted)
    marker = tmp_path / "demo-ideas-loaded"
    seed._load_ideas(tmp_path, {}, marker)  # no traceback: it returns
    assert marker.read_text() == "partial\n"  # the next start does not load them twice
    out = capsys.readouterr().out
    assert "stopped while loading; the ideas loaded so far are kept" in out
    assert "Traceback" not in out


def test_a_stop_while_the_demo_loads_stops_the_platform_without_its_banner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C reaches the loader and the supervisor alike: the supervisor stops at once
    instead of announcing a running platform and asking for another Ctrl-C."""
    stopped: list[bool] = []

    class Services:  # the supervisor's view of the platform, without its processes
        nats_url = "nats://127.0.0.1:0"
        procs: list[object] = []

        def __init__(self, data_dir: Path, *_: object) -> None:
            self.data_dir = data_dir

        def start(self) -> None: ...

        def wait_ready(self) -> float:
            return 0.1

        def stop(self) -> None:
            stopped.append(True)

    def loader_interrupted(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it to the whole group

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(platform, "Platform", Services)
    monkeypatch.setattr(platform.subprocess, "run", loader_interrupted)
    try:
        assert platform.up(tmp_path, {"portal": 0}, 0, demo=True) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    out = capsys.readouterr().out
    assert stopped == [True]
    assert "Stopping…" in out
    assert "Ideabank is running" not in out
    assert "Press Ctrl-C to stop" not in out
