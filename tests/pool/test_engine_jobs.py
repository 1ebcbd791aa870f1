"""The pool running the real engine (`engine.api:run_job`, the default runner) in spawned workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import run_async

api = pytest.importorskip("engine.api", reason="engine.api is not on this branch yet")

from engine.errors import VideoError  # noqa: E402
from engine.pool import LocalPool, PoolSettings, WorkerPlan  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = DATA / "squat_reference.mp4"
ATTEMPT = DATA / "squat_zoomed_offset.mp4"


def make_pool(tmp_path: Path, workers: int = 1) -> LocalPool:
    engine = api.EngineSettings(cache_dir=tmp_path / "cache", pose_threads=1)
    return LocalPool(engine, PoolSettings(), plans=[WorkerPlan("cpu", 1)] * workers)


def damaged_mp4(path: Path) -> Path:
    """An upload that starts like an MP4 (a real `ftyp` box) and is garbage after it."""
    rng = __import__("random").Random(7)
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    path.write_bytes(ftyp + bytes(rng.randrange(256) for _ in range(64_000)))
    return path


def test_a_video_the_decoder_cannot_read_fails_with_the_engines_own_message(tmp_path):
    upload = damaged_mp4(tmp_path / "upload.mp4")
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
    assert stats.outcomes["rejected"] == 1 and stats.workers_alive == 0  # closed after


@pytest.mark.slow
def test_real_scoring_jobs_run_in_workers_with_progress(tmp_path):
    if not (REFERENCE.is_file() and ATTEMPT.is_file()):
        pytest.skip(f"the squat clips are not in {DATA} on this branch yet")
    job = api.ScoreJob(str(REFERENCE), str(ATTEMPT))

    async def scenario():
        pool = make_pool(tmp_path, workers=2)
        stages: list[str] = []
        results = await asyncio.gather(
            pool.submit(job, progress=lambda s, f: stages.append(s)), pool.submit(job)
        )
        await pool.close()
        return results, stages

    results, stages = run_async(scenario(), timeout_s=300)
    assert all(r.score >= 8 for r in results)  # the zoomed copy of the same performance: a near-perfect match
    assert results[0].score == pytest.approx(results[1].score)
    assert "pose" in stages and set(results[0].seconds) >= {"decode", "pose", "score"}
