"""Time as a dependency, so timers (revisit dates, reminders) are testable."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    def today(self) -> date:
        """Current date (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def today(self) -> date:
        """Current date (UTC)."""
        return self.now().date()


class FixedClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)

    def now(self) -> datetime:
        """The set time."""
        return self._now

    def today(self) -> date:
        """The set date."""
        return self._now.date()

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self._now += delta

    def set(self, when: datetime) -> None:
        """Jump to ``when``."""
        self._now = when if when.tzinfo else when.replace(tzinfo=UTC)


class ShiftedClock:
    """System time moved by an offset kept in a file: lets the demo loader write history.

    Only the embedded demo platform turns this on (``IDEABANK_DEMO_CLOCK_FILE``); the loader
    writes an offset in seconds (e.g. ``-63072000`` for two years ago), calls the APIs, and
    removes the file when done. Production never sets it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._offset = timedelta()

    def offset(self) -> timedelta:
        """The current offset (zero when the file is absent)."""
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            self._mtime, self._offset = None, timedelta()
            return self._offset
        if mtime != self._mtime:
            try:
                self._offset = timedelta(seconds=float(self.path.read_text().strip() or 0))
            except ValueError:
                self._offset = timedelta()
            self._mtime = mtime
        return self._offset

    def now(self) -> datetime:
        """Shifted current time, timezone-aware UTC."""
        return datetime.now(UTC) + self.offset()

    def today(self) -> date:
        """Shifted current date (UTC)."""
        return self.now().date()


_event_clock: Clock | None = None


def set_event_clock(clock: Clock | None) -> None:
    """Make the outbox stamp events with this clock's time (the demo clock), or stop."""
    global _event_clock
    _event_clock = clock


def event_clock() -> Clock | None:
    """The clock events are stamped with, when it is not the system clock."""
    return _event_clock
