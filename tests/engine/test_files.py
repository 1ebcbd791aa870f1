"""Engine outputs appear whole or not at all, and cached poses come back as they were saved."""

from __future__ import annotations

import numpy as np
import pytest

from engine.atomic_file import atomic_path
from engine.pose_cache import PoseCache, envelope_path, file_digest, load_poses, save_poses


def test_a_file_appears_only_when_written_whole(tmp_path):
    out = tmp_path / "deep" / "card.png"
    with atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp.suffix == ".png" and tmp.name.startswith(".card.png.")
        tmp.write_bytes(b"x" * 10)
        assert not out.exists()
    assert out.read_bytes() == b"x" * 10
    assert [p.name for p in out.parent.iterdir()] == ["card.png"]


def test_a_failed_write_leaves_nothing_and_the_old_file_intact(tmp_path):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_two_writers_of_one_file_never_share_a_temporary_name(tmp_path):
    out = tmp_path / "poses.npz"
    with atomic_path(out) as first, atomic_path(out) as second:
        assert first != second
        first.write_bytes(b"one")
        second.write_bytes(b"two")
    assert out.read_bytes() == b"one"  # the last to finish wins, whole


def test_cached_poses_and_their_music_come_back_as_saved(tmp_path, squat_ref):
    video = tmp_path / "ref.mp4"
    video.write_bytes(b"some video")
    cache = PoseCache(tmp_path / "cache")
    digest = file_digest(video)
    assert cache.load(digest, "torch-6fps") is None
    envelope = np.linspace(0, 1, 50, dtype=np.float32)
    cache.save(digest, "torch-6fps", squat_ref, envelope)
    cached = cache.load(digest, "torch-6fps")
    assert cached is not None and cache.load(digest, "mediapipe-6fps") is None
    seq, env = cached
    assert np.array_equal(seq.keypoints, squat_ref.keypoints) and np.array_equal(env, envelope)
    save_poses(squat_ref, None, tmp_path / "plain.npz")
    assert load_poses(tmp_path / "plain.npz")[1] is None and not envelope_path(tmp_path / "plain.npz").exists()
