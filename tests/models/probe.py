"""A deterministic test image for the BlazePose networks (numpy only: the reference script imports it too)."""

from __future__ import annotations

import numpy as np


def probe_image(size: int) -> np.ndarray:
    """(1, size, size, 3) float32 in [0, 1]: smooth colour patterns, the same on every machine."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    channels = [
        0.5 + 0.5 * np.sin(2 * np.pi * (3 * x + 2 * y)),
        0.5 + 0.5 * np.cos(2 * np.pi * (5 * x * y + x)),
        (x + y) / 2,
    ]
    return np.stack(channels, axis=-1)[None].astype(np.float32)
