"""The engine's error tree. Every error a user can cause carries a message fit to show them."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose.

    `code` is a stable machine-readable name (used in `--json` output and by the bots);
    `str(error)` is a sentence fit to show the user as it is.
    """

    code = "engine_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


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
