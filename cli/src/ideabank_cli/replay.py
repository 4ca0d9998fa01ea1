"""``ideabank replay reporting``: rebuild reporting's read model from the stream, with progress.

The rebuilt database is a fresh one (by default a new SQLite file beside the live one), so
the live service keeps serving while it is built; point the service at it afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO


class ProgressBar:
    """A one-line progress bar with events/s, redrawn at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self.started = time.perf_counter()
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total``."""
        now = time.perf_counter()
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = done / total if total else 1.0
        filled = int(self.width * share)
        rate = done / (now - self.started) if now > self.started else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        out = self.stream or sys.stderr
        out.write(f"\r{self.label} [{bar}] {done:,}/{total:,} events {share:6.1%} {rate:,.0f} ev/s")
        if done >= total:
            out.write("\n")
        out.flush()


def default_target(data_dir: Path) -> str:
    """A new SQLite file for the rebuilt read model, named by the time of the replay."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(data_dir / f'reporting-replay-{stamp}.db').resolve()}"


def replay_reporting(
    *, nats_url: str, database_url: str, tenants: list[str], batch_size: int
) -> int:
    """Run the replay; print where the rebuilt read model is and how fast it was built."""
    try:
        from ideabank_reporting.rebuild import replay
    except ImportError:
        print("the reporting service is not installed", file=sys.stderr)
        return 2
    bar = ProgressBar("replay reporting")
    result = asyncio.run(
        replay(
            database_url=database_url,
            nats_url=nats_url,
            tenants=tenants,
            batch_size=batch_size,
            progress=bar,
        )
    )
    print(
        f"rebuilt reporting from {result.events:,} events in {result.seconds:.1f} s "
        f"({result.rate:,.0f} events/s) into {database_url}"
    )
    return 0
