"""Times as people read them: a moment of a clip as m:ss (or m:ss.s), a length of time in words."""

from __future__ import annotations

import math


def clock(seconds: float, tenths: bool = False) -> str:
    """`0:07` for 7.2 s; with `tenths`, `0:07.2`. Negative times read as 0."""
    seconds = max(0.0, float(seconds))
    if tenths:
        return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def describe_duration(seconds: float) -> str:
    """Render a duration for a user: '40 seconds', '3 minutes', '1 hour 5 minutes'."""
    if not math.isfinite(seconds):
        return "an unknown time"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    m = round(s / 60)
    if m < 60:
        return f"{m} minute{'s' if m != 1 else ''}"
    h, m = divmod(m, 60)
    return f"{h} hour{'s' if h != 1 else ''}" + (f" {m} minute{'s' if m != 1 else ''}" if m else "")
