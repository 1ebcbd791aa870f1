"""The adapters' own refusals, in the community core's error tree (`bot.core.errors.CoreError`).

`str(error)` is a sentence fit to show the user as it is. The core's refusals (unknown dance, job running,
rate limit, not a moderator...) and the engine's errors (no dancer, queue full...) are shown the same way.
"""

from __future__ import annotations

from bot.core.errors import CoreError


class BotError(CoreError):
    """Base of the refusals the chat adapters make before the core is involved."""

    code = "bot_refused"


class NotAVideoError(BotError):
    """The upload is not a video file."""

    code = "not_a_video"


class TooBigError(BotError):
    """The upload is bigger than the platform lets a bot download, or than the engine accepts."""

    code = "too_big"


class MissingVideoError(BotError):
    """A /score or /dance add command came without a video (no attachment, no replied-to video)."""

    code = "missing_video"


class ShuttingDownError(BotError):
    """The bot is restarting and takes no new work."""

    code = "shutting_down"

    def __init__(self) -> None:
        super().__init__("DanceScore is restarting and can't take new videos right now. Try again in a minute.")


GENERIC_FAILURE = "Something went wrong on my side while doing that. Please try again in a few minutes."


def describe_failure(error: BaseException) -> str:
    """The sentence to show a user for `error`: its own message when it is a refusal, else a generic one."""
    from engine.errors import EngineError

    if isinstance(error, CoreError | EngineError):
        return str(error)
    return GENERIC_FAILURE
