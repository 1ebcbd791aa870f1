"""The H.264 writer keeps any clip within the byte budget it is given."""

from __future__ import annotations

import numpy as np
import pytest
from render_media import top_level_boxes

from engine import encode
from engine.encode import encode_clip


def noise(seconds: float):
    """Frames that defeat compression: each one unrelated to the one before."""

    def frames(fmt):
        rng = np.random.default_rng(0)
        bank = [rng.integers(0, 256, (fmt.height, fmt.width, 3), dtype=np.uint8) for _ in range(5)]
        for k in range(fmt.frame_count(seconds)):
            yield bank[k % 5]

    return frames


@pytest.mark.slow
def test_frames_that_do_not_compress_still_fit_and_use_the_budget(tmp_path):
    budget = 2 * 2**20
    out = encode_clip(noise(40.0), tmp_path / "noise.mp4", size=(1280, 720), duration_s=40.0, fps=30,
                      budget_bytes=budget)  # fmt: skip
    size = out.stat().st_size
    # Within the budget, and the cap was what limited it (uncapped, noise takes tens of MB).
    assert 0.6 * budget < size <= budget
    assert top_level_boxes(out)[:2] == ["ftyp", "moov"]


def test_a_pass_that_overshoots_is_encoded_again_smaller(tmp_path, monkeypatch):
    # An encoder that runs 3x over its rate cap on the first pass (as x264 can on a tiny budget).
    real_plan, calls = encode.plan_video, []

    def overshooting_plan(*args):
        fmt = real_plan(*args)
        calls.append(fmt)
        if len(calls) == 1:
            return encode.VideoFormat(fmt.width, fmt.height, fmt.fps, fmt.maxrate * 3, fmt.bufsize * 3)
        return fmt

    monkeypatch.setattr(encode, "plan_video", overshooting_plan)
    budget = 200 * 2**10
    out = encode_clip(noise(4.0), tmp_path / "clip.mp4", size=(640, 360), duration_s=4.0, fps=30,
                      budget_bytes=budget)  # fmt: skip
    assert len(calls) >= 2
    assert out.stat().st_size <= budget
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no pass left behind


def test_the_smallest_accepted_budget_still_gives_a_clip(tmp_path):
    # Three minutes (the longest upload) at the smallest budget accepted for it: tiny, silent, but there.
    budget = encode.minimum_budget(180.0)
    out = encode_clip(noise(180.0), tmp_path / "clip.mp4", size=(1280, 720), duration_s=180.0, fps=30,
                      budget_bytes=budget)  # fmt: skip
    assert out.stat().st_size <= budget
