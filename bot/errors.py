"""The bots' error tree. Every refusal carries a sentence fit to show the user as it is (`str(error)`)."""

from __future__ import annotations


class BotError(Exception):
    """Base of every refusal or failure the bots report to a user. `code` is stable and machine-readable."""

    code = "bot_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotAVideoError(BotError):
    """The upload is not a video file."""

    code = "not_a_video"


class TooBigError(BotError):
    """The upload is bigger than the platform lets the bot download, or than the engine accepts."""

    code = "too_big"


class MissingVideoError(BotError):
    """A /score command came without a video (no attachment, no replied-to video)."""

    code = "missing_video"


class UnknownDanceError(BotError):
    """The dance named is not registered in this community."""

    code = "unknown_dance"

    def __init__(self, name: str, suggestions: list[str]) -> None:
        if suggestions:
            hint = "Did you mean " + ", ".join(f"“{s}”" for s in suggestions) + "?"
        else:
            hint = "Use /dances to see the dances of this group."
        super().__init__(f"I don't know a dance called “{name}”. {hint}")
        self.name = name
        self.suggestions = suggestions


class AlreadyRunningError(BotError):
    """The user already has an attempt being scored."""

    code = "already_running"

    def __init__(self) -> None:
        super().__init__(
            "You already have a video being scored. Wait for its result, then send the next one."
        )


class TooManyTriesError(BotError):
    """The user hit the per-user rate limit."""

    code = "too_many_tries"


class QueueFullError(BotError):
    """The scoring queue cannot take the job in time; carries the estimated wait in seconds."""

    code = "queue_full"

    def __init__(self, wait_s: float) -> None:
        minutes = max(1, round(wait_s / 60))
        super().__init__(
            f"Too many videos are waiting to be scored right now (about {minutes} min). "
            "Please try again later."
        )
        self.wait_s = wait_s


class NotModeratorError(BotError):
    """A moderator-only command from someone who is not one."""

    code = "not_moderator"


class ShuttingDownError(BotError):
    """The bot is restarting and takes no new work."""

    code = "shutting_down"

    def __init__(self) -> None:
        super().__init__(
            "DanceScore is restarting and can't take new videos right now. Try again in a minute."
        )


GENERIC_FAILURE = "Something went wrong on my side while scoring this. Please try again in a few minutes."


def describe_failure(error: BaseException) -> str:
    """The sentence to show a user for `error`: its own message when it is one of ours, else a generic one."""
    from engine.errors import EngineError

    if isinstance(error, BotError | EngineError):
        return str(error)
    return GENERIC_FAILURE
