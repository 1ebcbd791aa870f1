"""The community core on the real engine (`engine.api` through the engine gateway, on the pool's thread
backend) with the cc-by squat clip.

tests/data/squat_*.mp4: "Squat - exercise demonstration video" by FitnessScape, CC BY 3.0 (see
tests/data/ATTRIBUTION.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import bootstrap, engine_settings
from bot.config import Settings
from bot.core.models import Limits
from engine.errors import VideoError
from engine.pool import InlinePool, PoolSettings
from engine.sequence import PoseSequence

from .world import HERE, MOD, user

DATA = Path(__file__).parents[1] / "data"

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_dance_registered_and_scored_with_the_real_engine(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'real.db'}", limits=Limits(max_duration_s=60)
    )
    pool = InlinePool(engine_settings(settings), PoolSettings(workers=1))
    stages: list[str] = []
    async with bootstrap(settings, pool=pool) as services:
        service = services.community
        dance = await service.add_dance(
            MOD, HERE, "Squat", DATA / "squat_reference.mp4", progress=lambda stage, _f: stages.append(stage)
        )
        poses = PoseSequence.load(Path(dance.pose_path))
        assert dance.duration_s == pytest.approx(7.0, abs=0.2)
        assert poses.frames_with_dancer > 0.8 * len(poses)  # a person was found in nearly every frame
        assert Path(dance.reference_video).is_file() and stages  # kept for the clip's panel; progress shown

        text = tmp_path / "not-a-video.mp4"
        text.write_text("hello\n")
        with pytest.raises(VideoError, match="text file, not a video"):
            await service.submit_attempt(user(1), HERE, "squat", text)

        scored = await service.submit_attempt(user(1), HERE, "squat", DATA / "squat_zoomed_offset.mp4")
        assert scored.result.backend.startswith("mediapipe")
        assert 1.0 <= scored.attempt.score <= 10.0 and scored.standing.rank == 1
        assert set(scored.attempt.parts) <= {"arms", "legs", "torso", "head"}
        # the annotated clip and the card were rendered where the service asked, and are on the attempt
        assert scored.attempt.clip_path and Path(scored.attempt.clip_path).stat().st_size > 10_000
        assert scored.attempt.card_path and Path(scored.attempt.card_path).stat().st_size > 1_000
        assert Path(scored.attempt.clip_path).parent == tmp_path / "media" / "attempts" / str(dance.community_id)
        board = await service.show_leaderboard(HERE, "squat")
        shown = round(scored.attempt.score, 1)  # boards hold the score as shown
        assert [(e.user_id, e.score) for e in board.entries] == [("u1", shown)]
