"""A real two-person clip made from the cc-by squat clip: the dancer, and a larger bystander for a while."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SQUAT = Path(__file__).resolve().parents[1] / "data" / "squat_reference.mp4"
SIZE = (1280, 720)
DANCER_BOX = (60, 300, 400)  # x, y, side of the dancer's square on the canvas
BYSTANDER_BOX = (600, 40, 660)  # the bystander's: larger, on the right
BYSTANDER_FRAMES = (0.3, 0.7)  # the part of the clip the bystander is in


def make_two_person_clip(out: Path) -> Path:
    """Write a 7 s 1280x720 H.264 clip: the squat dancer (a 400 px square of the clip, bottom left) all along,
    and the same clip 1.5 s later, 660 px, on the right, from 30% to 70% of the clip: a bystander taller
    than the dancer for 40% of the time."""
    frames = []
    with av.open(str(SQUAT)) as src:
        for frame in src.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24")[:, 280:1000])  # the 720x720 square holding the man
    n = len(frames)
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for i in range(n):
            canvas = np.full((SIZE[1], SIZE[0], 3), 128, dtype=np.uint8)
            x, y, side = DANCER_BOX
            canvas[y : y + side, x : x + side] = cv2.resize(frames[i], (side, side), interpolation=cv2.INTER_AREA)
            if BYSTANDER_FRAMES[0] * n <= i < BYSTANDER_FRAMES[1] * n:
                x, y, side = BYSTANDER_BOX
                other = frames[(i + 45) % n]
                canvas[y : y + side, x : x + side] = cv2.resize(other, (side, side), interpolation=cv2.INTER_AREA)
            image = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            image.pts, image.time_base = i, Fraction(1, 30)
            for packet in stream.encode(image):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out
