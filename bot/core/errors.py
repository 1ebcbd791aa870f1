"""The community core's error tree. `str(error)` is a sentence fit to show the user as it is."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every refusal the community core makes on purpose.

    `code` is a stable machine-readable name (bots, logs); `str(error)` is the user-facing sentence.
    """

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


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
            f"The video is {describe_seconds(duration_s)} long; the limit is "
            f"{describe_seconds(max_duration_s)}. Trim it to the dance and send it again."
        )


class TooLargeError(CoreError):
    """The file is larger than the configured cap."""

    code = "too_large"

    def __init__(self, size_bytes: int, max_bytes: int) -> None:
        self.size_bytes = size_bytes
        self.max_bytes = max_bytes
        super().__init__(
            f"The file is {describe_bytes(size_bytes)}; the limit is {describe_bytes(max_bytes)}. "
            "Trim it or send it at a lower resolution."
        )


class UnreadableVideoError(CoreError):
    """The file is not a video the engine can read (or the engine refused it)."""

    code = "bad_video"


class AnalysisError(CoreError):
    """The engine could not score the video; `engine_code` is the engine's own error code."""

    code = "analysis_failed"

    def __init__(self, message: str, engine_code: str = "engine_error") -> None:
        self.engine_code = engine_code
        super().__init__(message)


class ChallengeError(CoreError):
    """A challenge command cannot be done as asked (one already running, none running...)."""

    code = "challenge"


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
