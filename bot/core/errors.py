"""The community core's error tree. `str(error)` is a sentence fit to show the user as it is.

`CoreError` shares its root, `engine.errors.Refusal` (a stable code and a sentence), with the engine's
errors: the bots show either the same way (`bot.errors.explain_failure`).
"""

from __future__ import annotations

from engine.errors import Refusal


class CoreError(Refusal):
    """Base of every refusal the community core makes on purpose.

    `code` is a stable machine-readable name (bots, logs); `str(error)` is the user-facing sentence.
    """

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidInputError(CoreError):
    """A command argument is malformed (a dance name with no letters, a negative duration...)."""

    code = "bad_input"


class UnknownDanceError(CoreError):
    """No dance of that name (or alias) is registered in this community."""

    code = "unknown_dance"

    def __init__(self, name: str, suggestions: list[str] | tuple[str, ...] = ()) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        if self.suggestions:
            quoted = ", ".join(f"“{s}”" for s in self.suggestions)
            text = f"There is no dance called “{name}” here. Did you mean {quoted}?"
        else:
            text = f"There is no dance called “{name}” here. Send /dances to see the list."
        super().__init__(text)


class DanceExistsError(CoreError):
    """The name or an alias is already taken by another dance in this community."""

    code = "dance_exists"


class NotModeratorError(CoreError):
    """The caller is not a moderator of this community."""

    code = "not_moderator"

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(f"Only moderators can {action}.")


class DuplicateAttemptError(CoreError):
    """The same video was already scored for this user and dance."""

    code = "duplicate_attempt"

    def __init__(self, dance: str, score: float) -> None:
        self.dance = dance
        self.score = score
        super().__init__(
            f"You already sent this exact video for “{dance}” (it scored {score:.1f}); "
            "record a new take to improve your score."
        )


class NotOwnerError(CoreError):
    """Someone asked to score a video another member posted (only a moderator may, for its poster)."""

    code = "not_owner"

    def __init__(self) -> None:
        super().__init__(
            "Only the person who posted a video can have it scored (a moderator can score it for them). "
            "Send your own video with /score <dance>."
        )


class VideoTakenError(CoreError):
    """This exact video is already on the boards under another member of the community."""

    code = "video_taken"

    def __init__(self, owner: str, dance: str) -> None:
        self.owner = owner
        self.dance = dance
        super().__init__(
            f"This exact video is already on the boards here under {owner} (for “{dance}”), so it can't be "
            "scored for anyone else. Record your own take and send that."
        )


class TooBusyError(CoreError):
    """The job would not finish in the time the platform leaves to answer (a busy queue): refused up front,
    never held against the user."""

    code = "too_busy"
    ours = True

    def __init__(self, expected_s: float, window_s: float) -> None:
        self.expected_s = expected_s
        self.window_s = window_s
        super().__init__(
            f"I'm very busy: your video would be scored in about {describe_seconds(expected_s)}, longer than I can "
            f"keep this reply open ({describe_seconds(window_s)}). Please send it again in a few minutes."
        )


class JobRunningError(CoreError):
    """The user already has a video being analysed."""

    code = "job_running"

    def __init__(self) -> None:
        super().__init__("Your previous video is still being analysed; wait for its result, then send the next.")


class RateLimitedError(CoreError):
    """The user sent too many videos in the rate-limit window."""

    code = "rate_limited"

    def __init__(self, limit: int, window_s: float, retry_after_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.retry_after_s = max(1.0, float(retry_after_s))
        super().__init__(
            f"You can send {limit} videos every {describe_seconds(window_s)}; "
            f"try again in {describe_seconds(self.retry_after_s)}."
        )


class TooLongError(CoreError):
    """The video is longer than the configured cap."""

    code = "too_long"

    def __init__(self, duration_s: float, max_duration_s: float) -> None:
        self.duration_s = duration_s
        self.max_duration_s = max_duration_s
        super().__init__(
            f"This video is {describe_seconds(duration_s)} long; the most I can score is "
            f"{describe_seconds(max_duration_s)}. Trim it to the dance and send it again."
        )


class TooLargeError(CoreError):
    """The file is larger than the configured cap, or than the chat platform lets a bot download."""

    code = "too_large"
    HINT = "Trim it to the part with the dance, or record at a lower resolution, and send it again."

    def __init__(self, size_bytes: int, max_bytes: int, *, platform: str | None = None, hint: str = HINT) -> None:
        self.size_bytes = size_bytes
        self.max_bytes = max_bytes
        if platform:
            text = (
                f"This video is {describe_bytes(size_bytes)}, but {platform.capitalize()} only lets bots "
                f"download files up to {describe_bytes(max_bytes)}."
            )
        else:
            text = f"This video is {describe_bytes(size_bytes)}; the most I can score is {describe_bytes(max_bytes)}."
        super().__init__(f"{text} {hint}")


class ChallengeError(CoreError):
    """A challenge command cannot be done as asked (one already running, none running...)."""

    code = "challenge"


class StorageError(Exception):
    """The store cannot be used (bad URL, unreachable server, schema newer than this code). Not a refusal:
    never the user's doing, so the bots answer it with an apology (`bot.errors`). Messages are for operators."""

    code = "storage"


class StorageUnavailableError(StorageError):
    """The database did not answer (connection refused or lost, timed out): worth trying again later."""

    code = "storage_unavailable"


def describe_seconds(seconds: float) -> str:
    """Say a duration the way a person would: '45 s', '3 min', '2 h 5 min', '3 days'."""
    s = max(0, round(seconds))
    if s < 90:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{round(hours / 24)} days"


def describe_bytes(size: int) -> str:
    """Say a file size the way a person would: '900 bytes', '12 KiB', '8.5 MiB'."""
    if size < 1024:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 1024:.0f} KiB"
    return f"{size / 2**20:.1f} MiB".replace(".0 MiB", " MiB")
