"""Durations as people type them in chat: `90m`, `2h`, `3d`, `1w`, `1d12h`."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.errors import InvalidInputError

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|[smhdw])")


def parse_duration(text: str) -> timedelta:
    """Read `90m`, `2h`, `3d`, `1w` or a mix like `1d 12h`; raise InvalidInputError otherwise."""
    compact = text.strip().lower()
    parts = _PART.findall(compact)
    if not parts or _PART.sub("", compact).strip():
        raise InvalidInputError(
            f"“{text}” is not a duration; write it like 90m, 2h, 3d or 1w (minutes, hours, days, weeks)."
        )
    return timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in parts))
