"""The pool running the real engine (`engine.api:run_job`, the default runner) in spawned workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from conftest import run_async

api = pytest.importorskip("engine.api", reason="engine.api is not on this branch yet")

from engine import openpose  # noqa: E402
from engine.errors import VideoError  # noqa: E402
from engine.pool import LocalPool, PoolSettings, WorkerPlan  # noqa: E402
from engine.sequence import PoseSequence  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = DATA / "squat_reference.mp4"
ATTEMPT = DATA / "squat_zoomed_offset.mp4"


def make_pool(tmp_path: Path, workers: int = 1) -> LocalPool:
    engine = api.EngineSettings(cache_dir=tmp_path / "cache", pose_threads=1)
    return LocalPool(engine, PoolSettings(), plans=[WorkerPlan("cpu", 1)] * workers)


# A standing figure in BODY_25 order, pixels in a 400x480 frame.
STANDING = np.array(
    [(200, 100), (200, 140), (170, 140), (150, 190), (140, 240), (230, 140), (250, 190), (260, 240),
     (200, 250), (180, 250), (180, 330), (180, 410), (220, 250), (220, 330), (220, 410),
     (193, 92), (207, 92), (185, 96), (215, 96), (230, 425), (235, 423), (215, 415), (170, 425),
     (165, 423), (185, 415)],
    dtype=float,
)  # fmt: skip


def make_dance(move: str, seconds: float = 4.0, fps: float = 30.0, lag_s: float = 0.0) -> PoseSequence:
    """A figure that waves both arms ("arms") or bends its knees ("knees") 0.8 times a second."""
    t = np.arange(int(seconds * fps)) / fps
    keypoints = np.repeat(STANDING[None], len(t), axis=0)
    swing = np.sin(2 * np.pi * 0.8 * (t - lag_s))
    if move == "arms":
        for shoulder, elbow, wrist, side in ((2, 3, 4, -1), (5, 6, 7, 1)):
            angle = np.pi / 2 - 1.2 * side * swing
            direction = np.stack([side * np.cos(angle), np.sin(angle)], axis=1)
            keypoints[:, elbow] = keypoints[:, shoulder] + 55 * direction
            keypoints[:, wrist] = keypoints[:, elbow] + 50 * direction
    else:
        keypoints[:, [10, 13]] += np.stack([10 * swing, -20 * np.abs(swing)], axis=1)[:, None]
    confidence = np.full((len(t), 25, 1), 0.9)
    confidence[:, [20, 23]] = 0  # small toes: no source, as from the real estimator
    return PoseSequence(
        t, np.concatenate([keypoints, confidence], axis=2), np.ones(len(t), bool), (400, 480), "openpose-json", seconds
    )


def write_damaged_mp4(path: Path) -> Path:
    """An upload that starts like an MP4 (a real `ftyp` box) and is garbage after it."""
    rng = __import__("random").Random(7)
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    path.write_bytes(ftyp + bytes(rng.randrange(256) for _ in range(64_000)))
    return path


def test_a_video_the_decoder_cannot_read_fails_with_the_engines_own_message(tmp_path):
    upload = write_damaged_mp4(tmp_path / "upload.mp4")
    job = api.ScoreJob(str(upload), str(upload))
    with pytest.raises(VideoError) as direct:
        api.run_job(job, api.EngineSettings(cache_dir=tmp_path / "direct"))

    async def scenario():
        pool = make_pool(tmp_path)
        with pytest.raises(VideoError) as pooled:
            await pool.submit(job)
        stats = pool.stats()
        await pool.close()
        return pooled.value, stats

    pooled, stats = run_async(scenario())
    assert type(pooled) is type(direct.value)
    assert str(pooled) == str(direct.value) and pooled.code == direct.value.code
    assert pooled.code == "unreadable_video" and "damaged" in str(pooled)
    assert stats.outcomes["rejected"] == 1 and stats.workers_alive == 1  # the worker itself is fine


def test_real_scoring_of_openpose_keypoints_in_workers_matches_a_direct_call(tmp_path):
    for name, seq in (("reference", make_dance("arms")), ("same", make_dance("arms")), ("other", make_dance("knees"))):
        openpose.write_directory(seq, tmp_path / name)
    jobs = [api.ScoreJob(str(tmp_path / "reference"), str(tmp_path / name)) for name in ("same", "other")]
    direct = [api.run_job(job, api.EngineSettings(cache_dir=tmp_path / "direct")).score for job in jobs]

    async def scenario():
        pool = make_pool(tmp_path, workers=2)
        stages: list[str] = []
        results = await asyncio.gather(*(pool.submit(job, progress=lambda s, f: stages.append(s)) for job in jobs))
        await pool.close()
        return results, stages

    (same, other), stages = run_async(scenario())
    assert [same.score, other.score] == pytest.approx(direct)
    assert same.score >= 8 and other.score <= 4
    assert "align" in stages and {"align", "score"} <= set(same.seconds)


@pytest.mark.slow
def test_real_scoring_jobs_run_in_workers_with_progress(tmp_path):
    if not (REFERENCE.is_file() and ATTEMPT.is_file()):
        pytest.skip(f"the squat clips are not in {DATA} on this branch yet")
    job = api.ScoreJob(str(REFERENCE), str(ATTEMPT))

    async def scenario():
        pool = make_pool(tmp_path, workers=2)
        stages: list[str] = []
        results = await asyncio.gather(pool.submit(job, progress=lambda s, f: stages.append(s)), pool.submit(job))
        await pool.close()
        return results, stages

    results, stages = run_async(scenario(), timeout_s=300)
    assert all(r.score >= 8 for r in results)  # the zoomed copy of the same performance: a near-perfect match
    assert results[0].score == pytest.approx(results[1].score)
    assert "pose" in stages and set(results[0].seconds) >= {"decode", "pose", "score"}
