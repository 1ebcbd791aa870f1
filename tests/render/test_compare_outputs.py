"""engine.api.compare writes the card and clip a job asks for and says how long rendering took."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from render_media import pose_sequence

from engine.api import CompareOptions, EngineSettings, compare
from engine.errors import InputError


def dancing(seconds: float, phase: float = 0.0):
    """A pose sequence whose arms swing (so alignment has something to lock on to)."""
    seq = pose_sequence((480, 640), seconds)
    swing = 40 * np.sin(2 * np.pi * (seq.times + phase) / 1.5).astype(np.float32)
    for wrist, elbow in ((4, 3), (7, 6)):
        seq.keypoints[:, wrist, 1] += swing
        seq.keypoints[:, elbow, 1] += swing / 2
    return seq


def test_compare_writes_the_card_it_is_asked_for(tmp_path):
    card = tmp_path / "out" / "card.png"
    result = compare(dancing(8.0), dancing(8.0, 0.2), EngineSettings(cache_dir=tmp_path / "cache"),
                     CompareOptions(card_path=str(card)))  # fmt: skip
    assert result.card_path == str(card)
    assert Image.open(card).size == (1080, 1350)
    assert result.seconds["render"] > 0
    assert result.clip_path is None


def test_a_clip_of_an_attempt_given_only_as_keypoints_is_refused_with_a_reason(tmp_path):
    with pytest.raises(InputError, match="needs the attempt's video"):
        compare(dancing(8.0), dancing(8.0), EngineSettings(cache_dir=tmp_path / "cache"),
                CompareOptions(clip_path=str(tmp_path / "clip.mp4")))  # fmt: skip
    assert not (tmp_path / "clip.mp4").exists()
