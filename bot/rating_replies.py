"""Reply texts about ratings and scorer versions, shared by both bots and the CLI (plain text, no markup)."""

from __future__ import annotations

import math

from bot.core.calibration import CalibrationReport, HeldOut
from bot.core.ratings import RatingReceipt, RatingStats, RescoreOutcome, ScorerStatus
from bot.core.scorers import Calibration


def describe_rating_prompt(scorer_version: str) -> str:
    """The line under a result that invites members to rate it (and says which scorer version scored it)."""
    return f"Members: rate this attempt from 1 to 10 below. (Scorer {scorer_version}.)"


def describe_rating(receipt: RatingReceipt) -> str:
    """What the rater is told (only them)."""
    attempt = receipt.attempt
    whose = "your own" if receipt.own else f"{attempt.display_name}'s"
    what = f"{whose} {attempt.dance_name} attempt"
    if receipt.previous is None:
        text = f"You rated {what} {receipt.value}/10."
    elif receipt.previous == receipt.value:
        text = f"You had already rated {what} {receipt.value}/10."
    else:
        text = f"You changed your rating of {what} from {receipt.previous} to {receipt.value}/10."
    if receipt.own:
        text += " Ratings of your own attempts are kept but never used to tune the scorer."
    return text


def describe_rating_stats(stats: RatingStats) -> str:
    if not stats.ratings and not stats.own:
        return "No ratings here yet: members rate an attempt from 1 to 10 under its result."
    lines = [
        f"Ratings here: {stats.ratings} from {count(stats.raters, 'member')} on {count(stats.attempts, 'attempt')}, "
        f"plus {count(stats.own, 'rating')} by dancers of their own attempts (kept, never used).",
    ]
    if stats.by_version:
        lines.append("Scores rated, by scorer: " + ", ".join(f"{v} {n}" for v, n in sorted(stats.by_version.items())))
    if stats.distribution:
        lines.append("Ratings given: " + " · ".join(f"{v}: {n}" for v, n in stats.distribution.items()))
    if stats.agreement is not None:
        mae, rho = stats.agreement
        lines.append(
            f"The scores shown against the members' median rating: off by {mae:.1f} points on average, "
            f"rank agreement (Spearman) {_number(rho)}."
        )
    if stats.top_raters:
        lines.append("Most active: " + ", ".join(f"{name} {n}" for name, n in stats.top_raters))
    return "\n".join(lines)


def describe_scorer_status(status: ScorerStatus) -> str:
    chosen = ""
    if status.chosen_by and status.chosen_at:
        chosen = f" (chosen by {status.chosen_by} on {status.chosen_at:%Y-%m-%d})"
    lines = [f"Scorer in use here: {status.version}{chosen}."]
    if status.calibration is not None:
        lines.append(status.calibration.describe() + ".")
    elif status.version == status.available[0]:
        lines.append(f"{status.version} is the documented scorer DanceScore ships.")
    if not status.applies:
        lines.append(
            f"It does not apply to the engine's current scorer ({status.available[0]}), so new attempts keep "
            f"{status.available[0]}'s score until a moderator chooses another version."
        )
    if status.versions_on_boards:
        on_boards = ", ".join(f"{n} by {v}" for v, n in sorted(status.versions_on_boards.items()))
        lines.append(f"Attempts here: {on_boards}.")
    lines.append("Versions this community can use: " + ", ".join(status.available) + ".")
    lines.append(f"Ratings from members: {status.ratings}.")
    return "\n".join(lines)


def describe_rescore(outcome: RescoreOutcome) -> str:
    text = f"Re-scored {count(outcome.rescored, 'attempt')} with {outcome.version}; the boards are rebuilt."
    if outcome.unchanged:
        text += f" Already scored by {outcome.version}: {count(outcome.unchanged, 'attempt')}."
    if outcome.skipped:
        text += f" Left as they were (no stored features, or another scorer's): {count(outcome.skipped, 'attempt')}."
    return text


def describe_calibration(report: CalibrationReport, current: str, saved: Calibration | None, scope: str) -> str:
    """The `dancescore calibrate` report: the data, the held-out comparison, and the decision."""
    lines = []
    consensus = report.consensus
    if consensus is not None:
        lines.append(
            f"{scope}: {consensus.used_ratings} ratings from {consensus.rater_count} members on "
            f"{len(consensus.attempt_ids)} attempts ({consensus.own_ratings} own ratings left out, "
            f"{consensus.partial_ratings} left out as partial, {consensus.capped_raters} raters capped)"
        )
    for why, n in report.left_out.items():
        lines.append(f"  {n} rated attempts left out: {why}")
    if report.calibration is not None and report.current is not None:
        lines.append(f"inputs: {', '.join(report.feature_names)}")
        lines.append(f"held-out ratings (spread of the members' median: {report.target_spread:.2f}):")
        lines.append(f"  {'':16}{'MAE':>6}{'Spearman':>10}{'spread':>8}")
        lines.append(_row("calibration", report.calibration))
        lines.append(_row(f"current ({current})", report.current))
    lines.append(report.reason)
    if saved is not None:
        lines.append(f"wrote {saved.version} (use it with /scorer use {saved.version})")
    else:
        lines.append("no calibration written")
    return "\n".join(lines)


def count(n: int, noun: str) -> str:
    """`1 attempt`, `3 attempts`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _row(label: str, held: HeldOut) -> str:
    return f"  {label:<16}{held.mae:6.2f}{_number(held.spearman):>10}{held.spread:8.2f}"


def _number(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"
