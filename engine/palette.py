"""Colours and fonts shared by the annotated clip and the score card, so both read the same way."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import ImageFont

Colour = tuple[int, int, int]

BACKGROUND: Colour = (17, 19, 26)
SURFACE: Colour = (30, 34, 45)
TEXT: Colour = (240, 242, 247)
MUTED: Colour = (150, 156, 172)
ACCENT: Colour = (92, 200, 255)
WEAK: Colour = (235, 64, 64)
REFERENCE_SKELETON: Colour = (92, 200, 255)
NEUTRAL_BONE: Colour = (225, 228, 235)

# Error 0 (matches) -> green, 0.5 -> amber, 1 (far off) -> red.
_STOPS = np.array([[46, 204, 113], [255, 193, 7], [235, 64, 64]], dtype=np.float64)


def _ramp() -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    channels = [np.interp(x, [0.0, 0.5, 1.0], _STOPS[:, c]) for c in range(3)]
    return np.stack(channels, axis=1).round().astype(np.uint8)


ERROR_RAMP = _ramp()  # (256, 3) uint8 RGB, index = round(error * 255)


def error_colour(error: float) -> Colour:
    """Colour of a limb error 0 (green) .. 1 (red); NaN counts as unknown (neutral)."""
    if not np.isfinite(error):
        return NEUTRAL_BONE
    r, g, b = ERROR_RAMP[round(min(max(error, 0.0), 1.0) * 255)]
    return int(r), int(g), int(b)


def score_colour(score_0_100: float) -> Colour:
    """Colour of a 0-100 score: red when low, green when high."""
    return error_colour(1.0 - score_0_100 / 100.0)


def scores_to_rgb(scores_0_100: np.ndarray) -> np.ndarray:
    """scores: (N,) float, 0-100 (NaN = unknown) -> (N, 3) uint8 RGB."""
    s = np.asarray(scores_0_100, dtype=np.float64)
    known = np.isfinite(s)
    idx = np.round((1.0 - np.clip(np.where(known, s, 0.0), 0, 100) / 100.0) * 255).astype(np.int64)
    rgb = ERROR_RAMP[idx]
    rgb[~known] = SURFACE
    return rgb


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in scalable font (Aileron, SIL OFL, inside Pillow >= 10.1): no font file to ship."""
    return ImageFont.load_default(size=max(6, int(size)))
