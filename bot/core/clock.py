"""The core's clocks: the real one, and the one tests move by hand (e.g. past a challenge's deadline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None, step_s: float = 0.0) -> None:
        self._now = start or datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
        self.step_s = step_s  # moved forward after every reading (distinct timestamps)

    def now(self) -> datetime:
        now = self._now
        self._now += timedelta(seconds=self.step_s)
        return now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, **delta: float) -> datetime:
        """Move forward, e.g. `advance(hours=2)`; returns the new time."""
        self._now += timedelta(**delta)
        return self._now
