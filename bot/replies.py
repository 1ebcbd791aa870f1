"""Reply texts shared by both bots, made from the core's plain data (no platform types, no markup)."""

from __future__ import annotations

from bot.core.errors import describe_seconds
from bot.core.models import (
    Announcement,
    ChallengeStatus,
    DanceHistory,
    Leaderboard,
    LeaderboardEntry,
    LostJob,
    Profile,
    ScoredAttempt,
)


def describe_scored(scored: ScoredAttempt) -> str:
    """Score, form and timing, the parts, two or three feedback lines, the rank (and challenge rank), notes."""
    result = scored.result
    best = " (personal best!)" if scored.personal_best else ""
    parts = " · ".join(f"{name.capitalize()} {round(value)}" for name, value in result.parts.items())
    lines = [
        f"{scored.attempt.dance_name}: {result.score:.1f} / 10{best}",
        f"Form {round(result.form)} · Timing {round(result.timing)}" + (" · mirrored" if result.mirrored else ""),
        parts,
        *(f"• {_sentence(line)}" for line in result.feedback[:3]),
        f"Rank {scored.standing.rank} of {scored.standing.of} on {scored.standing.board} (all time)."
        if scored.saved
        else "The leaderboard is unavailable right now; your score will be added to it as soon as it is back.",
    ]
    if scored.challenge is not None and scored.challenge_standing is not None:
        lines.append(
            f"Challenge #{scored.challenge.id}: rank {scored.challenge_standing.rank} of "
            f"{scored.challenge_standing.of}, ends in {describe_seconds(_seconds_left(scored))}."
        )
    lines += [f"Note: {_sentence(note)}" for note in scored.notes[:2] if note not in result.feedback[:3]]
    return "\n".join(line for line in lines if line)


def describe_leaderboard(board: Leaderboard) -> str:
    """The board; which scorer version made the scores is in the title, or on each row when they differ."""
    title = f"{board.dance or 'Overall'} · {board.period_label}"
    if not board.entries:
        return f"{title}\nNo scores yet. Be the first: /score <dance> with your video."
    versions = {e.scorer_version for e in board.entries}
    rows = _rows(board.entries, overall=board.dance is None)
    if len(versions) == 1:
        title += f" · scorer {versions.pop() or 'v1'}"
    else:
        rows = [f"{row} [{e.scorer_version or 'v1'}]" for row, e in zip(rows, board.entries, strict=True)]
    if board.viewer is not None and not board.viewer_shown:
        rows.append(f"You: rank {board.viewer.rank} of {board.viewer.of} · {board.viewer.score:.1f}")
    return "\n".join([title, *rows])


def describe_history(history: DanceHistory) -> str:
    """What goes with the progress chart: how many attempts, the best, the latest and the rank."""
    attempts = history.attempts
    if not attempts:
        return f"You have no attempts at “{history.dance}” here yet. Send /score {history.dance} with your video."
    best = max(a.score for a in attempts)
    first, last = attempts[0], attempts[-1]
    rank = f", rank {history.standing.rank} of {history.standing.of}" if history.standing else ""
    change = last.score - first.score
    trend = f"; {change:+.1f} since your first" if len(attempts) > 1 else ""
    return (
        f"{history.caller.display_name} · {history.dance}: {len(attempts)} attempt{'s' if len(attempts) != 1 else ''}, "
        f"best {best:.1f}{rank}, latest {last.score:.1f} on {last.submitted_at:%Y-%m-%d}{trend}."
    )


def describe_profile(profile: Profile) -> str:
    if not profile.attempts:
        return "You have no scored attempts here yet. Send /score <dance> with your video."
    lines = [f"{profile.caller.display_name}: your ranks (all time)"]
    lines += [f"• {s.board}: {s.score:.1f}, rank {s.rank} of {s.of}" for s in profile.standings]
    lines.append("Recent attempts:")
    lines += [f"• {a.dance_name}: {a.score:.1f} on {a.submitted_at:%Y-%m-%d}" for a in profile.attempts[:5]]
    return "\n".join(lines)


def describe_challenges(statuses: list[ChallengeStatus]) -> str:
    if not statuses:
        return "No challenge is running here. Moderators can start one with /challenge start <dance> <duration>."
    blocks = []
    for status in statuses:
        head = (
            f"Challenge #{status.challenge.id}: {status.challenge.dance_name}, "
            f"ends in {describe_seconds(status.seconds_left)}"
        )
        rows = _rows(status.standings, overall=False) or ["No attempts yet."]
        blocks.append("\n".join([head, *rows]))
    return "\n\n".join(blocks)


def describe_announcement(announcement: Announcement) -> str:
    challenge = announcement.challenge
    head = f"Challenge #{challenge.id} ({challenge.dance_name}) is over!"
    if not announcement.standings:
        return f"{head} Nobody took part this time."
    winner = announcement.standings[0]
    return "\n".join(
        [head, f"Winner: {winner.display_name} with {winner.score:.1f}.", *_rows(announcement.standings, False)]
    )


def describe_lost_job(job: LostJob) -> str:
    """What to tell a user whose job died with the bot's process."""
    return (
        f"DanceScore restarted while your video for “{job.dance_name}” was being analysed, so it was not "
        "scored. Please send it again."
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rows(entries: list[LeaderboardEntry], overall: bool) -> list[str]:
    unit = lambda e: f"{e.score:.1f} ({e.dances} dances)" if overall else f"{e.score:.1f}"  # noqa: E731
    return [f"{e.rank}. {e.display_name}: {unit(e)}" for e in entries]


def _seconds_left(scored: ScoredAttempt) -> float:
    assert scored.challenge is not None
    return max(0.0, (scored.challenge.ends_at - scored.attempt.submitted_at).total_seconds())
