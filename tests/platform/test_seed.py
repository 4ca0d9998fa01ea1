"""Loading the demo data: what a stop in the middle leaves."""

from __future__ import annotations

from pathlib import Path

import pytest
from ideabank_cli import demo_ideas, seed


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
