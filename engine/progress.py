"""What a long engine call reports while it works: which stage it is in and how far through it is."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Stage(StrEnum):
    """The stages a comparison goes through, in order (a `str`, so it pickles and compares as its name)."""

    REFERENCE = "reference"  # analysing the reference video (skipped when its poses are cached)
    POSE = "pose"  # analysing the attempt
    ALIGN = "align"  # aligning and scoring
    RENDER = "render"  # drawing the annotated clip


Progress = Callable[[str, float], None]
"""Called as `progress(stage, fraction)`: a `Stage` (or its name) and 0-1 of that stage done."""
