"""The adapters' own refusals, and the one failure policy both chat platforms follow.

Every failure a user may see goes through `explain_failure`: a refusal (`engine.errors.Refusal`: the core's
`CoreError`s, the engine's `EngineError`s, the adapters' `BotError`s below) is shown as its own sentence;
anything else (a bug, the database unreachable) is logged with its traceback and the user gets an apology
that blames nothing they did.
"""

from __future__ import annotations

import asyncio
import logging

from bot.core.errors import CoreError, StorageError
from engine.errors import Refusal

logger = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on my side while doing that. Please try again in a few minutes."
STORAGE_FAILURE = "I can't reach my database right now, so I can't do that. Please try again in a few minutes."
RESTART_MESSAGE = "DanceScore is restarting, so your video could not be scored. Please send it again in a minute."


class BotError(CoreError):
    """Base of the refusals the chat adapters make before the core is involved."""

    code = "bot_refused"


class NotAVideoError(BotError):
    """The upload is not a video file."""

    code = "not_a_video"


class MissingVideoError(BotError):
    """A /score or /dance add command came without a video (no attachment, no replied-to video)."""

    code = "missing_video"


class ShuttingDownError(BotError):
    """The bot is restarting and takes no new work."""

    code = "shutting_down"
    ours = True

    def __init__(self) -> None:
        super().__init__("DanceScore is restarting and can't take new videos right now. Try again in a minute.")


class StartError(Exception):
    """A part of the bot could not start (a platform, the ops port, the data directory); the message is one
    line for the operator that says what to fix."""


def explain_failure(error: BaseException, doing: str) -> str:
    """The sentence to show a user whose request failed with `error`, logged as an operator needs it.

    `doing` says what failed, for the log ("/score in chat -100"). A cancelled job is a restart.
    """
    if isinstance(error, asyncio.CancelledError):
        return RESTART_MESSAGE
    if isinstance(error, Refusal):
        if error.ours:
            logger.warning("%s: refused on our side (%s): %s", doing, error.code, error)
        return str(error)
    if isinstance(error, StorageError):
        logger.error("%s: the database failed: %s", doing, error)
        return STORAGE_FAILURE
    logger.error("%s failed", doing, exc_info=error)
    return GENERIC_FAILURE
