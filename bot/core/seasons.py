"""Leaderboard periods: the keys boards are stored under and the labels users see."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.models import Season

ALL_TIME = "all"


def format_month_key(at: datetime) -> str:
    """`month:2026-11` for any moment in November 2026 (UTC)."""
    at = at.astimezone(UTC)
    return f"month:{at.year:04d}-{at.month:02d}"


def format_week_key(at: datetime) -> str:
    """`week:2026-W48` (ISO week, Monday to Sunday, UTC)."""
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"week:{year:04d}-W{week:02d}"


def format_challenge_key(challenge_id: int) -> str:
    return f"challenge:{challenge_id}"


def list_season_keys(at: datetime) -> list[str]:
    """Every seasonal board an attempt made at `at` counts on (both kinds, so a community may switch)."""
    return [format_month_key(at), format_week_key(at)]


def find_current_season(season: Season, now: datetime) -> tuple[str, str]:
    """(period key, label) of the season running at `now`; a community without seasons gets all time."""
    if season is Season.MONTHLY:
        key = format_month_key(now)
        return key, f"season {key.split(':')[1]}"
    if season is Season.WEEKLY:
        key = format_week_key(now)
        return key, f"week {key.split(':')[1]}"
    return ALL_TIME, "all time (this community has no seasons)"
