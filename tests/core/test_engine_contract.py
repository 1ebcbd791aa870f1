"""The contract of the core's engine port (`bot.core.ports.DanceEngine`), passed by the real gateway (the
real engine in the pool, here on its thread backend) and by its fake (`ScriptedEngine`), on the same files.

tests/data/squat_*.mp4: "Squat - exercise demonstration video" by FitnessScape, CC BY 3.0.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from bot.core.models import Dance
from bot.core.ports import DanceEngine
from bot.gateways.engine import PoolEngine
from bot.gateways.scripted import ScriptedEngine
from engine.api import EngineSettings
from engine.decode import VideoLimits
from engine.errors import VideoError
from engine.pool import InlinePool, PoolSettings
from engine.progress import Stage

DATA = Path(__file__).parents[1] / "data"
REFERENCE = DATA / "squat_reference.mp4"
ATTEMPT = DATA / "squat_zoomed_offset.mp4"
STAGES = set(Stage)  # the engine's stages, which the bots put in words

pytestmark = pytest.mark.asyncio
Build = Callable[[float], DanceEngine]  # max_duration_s -> an engine with that limit


def real(tmp_path: Path) -> Build:
    def build(max_duration_s: float) -> DanceEngine:
        settings = EngineSettings(cache_dir=tmp_path / "cache", max_duration_s=max_duration_s)
        return PoolEngine(InlinePool(settings, PoolSettings(workers=1)))

    return build


def scripted(tmp_path: Path) -> Build:
    return lambda max_duration_s: ScriptedEngine(limits=VideoLimits(max_duration_s=max_duration_s))


@pytest.fixture(params=[pytest.param(real, id="real", marks=pytest.mark.slow), pytest.param(scripted, id="fake")])
def build(request: pytest.FixtureRequest, tmp_path: Path) -> Build:
    return request.param(tmp_path)


def dance_of(pose_path: Path, duration_s: float) -> Dance:
    return Dance(1, 1, "squat", (), str(pose_path), str(REFERENCE), duration_s, "mod", "cli:mod", datetime.now(UTC))


async def test_reference_then_attempt_scored_with_clip_and_card(build: Build, tmp_path: Path) -> None:
    engine = build(180.0)
    stages: list[str] = []
    reference = await engine.analyse_reference(REFERENCE, tmp_path / "ref.npz", lambda s, _f: stages.append(s))
    assert reference.pose_path.is_file()
    assert reference.duration_s == pytest.approx(7.0, abs=0.25)

    clip, card = tmp_path / "clip.mp4", tmp_path / "card.png"
    result = await engine.score(
        dance_of(reference.pose_path, reference.duration_s),
        ATTEMPT,
        clip_path=clip,
        card_path=card,
        progress=lambda s, _f: stages.append(s),
    )
    assert 1.0 <= result.score <= 10.0
    assert set(result.parts) <= {"arms", "legs", "torso", "head"}
    assert result.clip_path == str(clip) and result.card_path == str(card)
    with av.open(str(clip)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert card.read_bytes().startswith(b"\x89PNG")
    assert stages and set(stages) <= STAGES


async def test_a_file_that_is_not_a_video_is_refused_before_any_analysis(build: Build, tmp_path: Path) -> None:
    engine = build(180.0)
    text = tmp_path / "dance.mp4"
    text.write_text("hello, this is not a video\n")
    with pytest.raises(VideoError) as refused:
        await engine.analyse_reference(text, tmp_path / "ref.npz", None)
    assert refused.value.code == "not_a_video" and not refused.value.ours
    dance = dance_of(DATA / "keypoints" / "squat_reference.npz", 7.0)  # poses analysed earlier
    clip = tmp_path / "clip.mp4"
    with pytest.raises(VideoError, match="text file, not a video"):
        await engine.score(dance, text, clip_path=clip, card_path=None, progress=None)
    assert not clip.exists() and not (tmp_path / "ref.npz").exists()


async def test_the_engine_holds_the_file_to_its_duration_limit(build: Build, tmp_path: Path) -> None:
    engine = build(3.0)  # both squat clips are about 7 s long
    with pytest.raises(VideoError) as refused:
        await engine.analyse_reference(REFERENCE, tmp_path / "ref.npz", None)
    assert refused.value.code == "too_long"
