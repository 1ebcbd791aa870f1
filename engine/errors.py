"""The engine's error tree. Every error a user can cause carries a message fit to show them.

`Refusal` is the root that the bots' own refusals (`bot.core.errors.CoreError`) share with the engine's
errors, so every layer shows any of them the same way: `str(error)` to the user, `.code` to programs.
"""

from __future__ import annotations


class Refusal(Exception):  # noqa: N818 (a refusal to show the user, not only an error)
    """A failure fit to show the user as it is: a stable machine-readable `code` and a sentence (`str()`).

    `ours` is True when the failure is on DanceScore's side (busy, crashed, restarting) rather than in what
    the user sent: such a failure is never counted against the user (rate limit, lock-out).
    """

    code = "refused"
    ours = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class EngineError(Refusal):
    """Base of every error the engine raises on purpose.

    `code` is a stable machine-readable name (used in `--json` output and by the bots);
    `str(error)` is a sentence fit to show the user as it is.
    """

    code = "engine_error"


class InputError(EngineError):
    """The request itself is unusable (missing path, bad option)."""

    code = "bad_input"


class VideoError(EngineError):
    """The upload is not a video we can read: wrong type, corrupt, truncated, too long, too large."""

    code = "bad_video"


class NoDancerError(EngineError):
    """No person was found in (enough of) the clip."""

    code = "no_dancer"


class KeypointsError(EngineError):
    """An OpenPose keypoint directory or file is malformed."""

    code = "bad_keypoints"


class RenderError(EngineError):
    """The annotated clip or score card could not be produced."""

    code = "render_failed"
    ours = True
