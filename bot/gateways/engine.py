"""The engine gateway: the core's `DanceEngine` port over an engine pool.

Every decode of a user's file happens in the pool's workers (reference analysis included), never in the
bot's process: a decoder that crashes on a hostile file takes down one worker, which the pool replaces.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.core.models import Dance, ReferencePose
from bot.core.ports import Progress
from engine.api import CompareOptions, ReferenceJob, ReferenceResult, ScoreJob
from engine.pool.interface import EnginePool
from engine.result import ScoreResult


class PoolEngine:
    """`DanceEngine` on an `EnginePool` (local worker processes, Ray actors, or threads for tools and tests).

    The pool's workers hold the engine's settings (limits, frame rate, device): the composition root builds
    them from the same settings object as the core's. Errors are the engine's own (`EngineError`).
    """

    def __init__(self, pool: EnginePool) -> None:
        self.pool = pool

    def __repr__(self) -> str:
        return f"PoolEngine({type(self.pool).__name__})"

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        result = await self.pool.submit(ReferenceJob(str(video), str(pose_path)), progress)
        assert isinstance(result, ReferenceResult)
        return ReferencePose(Path(result.pose_path), result.duration_s)

    async def score(
        self,
        dance: Dance,
        attempt: Path,
        *,
        clip_path: Path | None,
        card_path: Path | None,
        progress: Progress | None,
        clip_budget_bytes: int | None = None,
    ) -> ScoreResult:
        options = CompareOptions(
            clip_path=str(clip_path) if clip_path else None,
            card_path=str(card_path) if card_path else None,
        )
        if clip_budget_bytes is not None:
            options = replace(options, clip_budget_bytes=clip_budget_bytes)
        job = ScoreJob(
            reference=dance.pose_path,
            attempt=str(attempt),
            options=options,
            reference_video=dance.reference_video,
        )
        result = await self.pool.submit(job, progress)
        assert isinstance(result, ScoreResult)
        return result

    def estimate_s(self) -> tuple[float, float]:
        """The pool's estimate of a new job's wait, and its measured mean run time."""
        return self.pool.estimate_wait(), self.pool.stats().mean_job_s
