"""The core's engine gateway on the local pool (`PoolEngine(pool)`): reference analysis and scoring run in
worker processes and the pool's refusals reach the core as errors with the user's sentence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_async

from bot.core.models import Dance
from bot.gateways.engine import PoolEngine
from engine.api import EngineSettings
from engine.pool import LocalPool, PoolSettings, QueueFullError, WorkerPlan

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.slow
def test_the_core_scores_through_the_pool_and_relays_its_refusal(tmp_path):
    settings = EngineSettings(cache_dir=tmp_path / "cache", pose_threads=1)

    async def scenario():
        analyst = PoolEngine(LocalPool(settings, PoolSettings(), plans=[WorkerPlan("cpu", 1)]))
        reference = await analyst.analyse_reference(DATA / "squat_reference.mp4", tmp_path / "ref.npz", None)
        assert analyst.pool.stats().outcomes["ok"] == 1  # decoded in a worker process, not in this one
        await analyst.pool.close()
        assert reference.pose_path.is_file() and reference.duration_s > 5
        pool = LocalPool(settings, PoolSettings(expected_job_s=200, max_wait_s=300), plans=[WorkerPlan("cpu", 1)])
        engine = PoolEngine(pool)
        dance = Dance(
            1, 1, "squat", (), str(reference.pose_path), str(DATA / "squat_reference.mp4"),
            reference.duration_s, "mod", "discord:1", datetime.now(UTC),
        )  # fmt: skip
        stages: list[str] = []
        first = asyncio.create_task(
            engine.score(
                dance, DATA / "squat_zoomed_offset.mp4", clip_path=None, card_path=None,
                progress=lambda s, f: stages.append(s),
            )
        )  # fmt: skip
        await asyncio.sleep(0.2)
        second = asyncio.create_task(
            engine.score(dance, DATA / "squat_zoomed_offset.mp4", clip_path=None, card_path=None, progress=None)
        )
        await asyncio.sleep(0.2)
        with pytest.raises(QueueFullError) as refused:  # a third would wait past the 5-minute limit
            await engine.score(dance, DATA / "squat_zoomed_offset.mp4", clip_path=None, card_path=None, progress=None)
        results = await asyncio.gather(first, second)
        stats = pool.stats()
        await pool.close()
        return results, stages, refused.value, stats

    results, stages, refused, stats = run_async(scenario(), timeout_s=300)
    assert all(r.score >= 8 for r in results)
    assert "pose" in stages
    assert refused.code == "queue_full" and refused.ours and "The scorer is busy" in str(refused)
    assert stats.outcomes["ok"] == 2 and stats.outcomes["refused"] == 1
