from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import EngineSettings
from engine.sequence import PoseSequence

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(cache_dir=tmp_path / "cache")


@pytest.fixture(scope="session")
def squat_ref() -> PoseSequence:
    """Real BODY_25 keypoints of the cc-by squat clip, every frame at 30 fps."""
    return PoseSequence.load(DATA / "keypoints" / "squat_reference.npz")


@pytest.fixture(scope="session")
def squat_zoomed() -> PoseSequence:
    return PoseSequence.load(DATA / "keypoints" / "squat_zoomed_offset.npz")
