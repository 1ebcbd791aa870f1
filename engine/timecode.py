"""Times as people read them: m:ss, or m:ss.s with tenths."""

from __future__ import annotations


def clock(seconds: float, tenths: bool = False) -> str:
    """`0:07` for 7.2 s; with `tenths`, `0:07.2`. Negative times read as 0."""
    seconds = max(0.0, float(seconds))
    if tenths:
        return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"
