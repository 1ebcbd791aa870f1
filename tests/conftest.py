from __future__ import annotations

from collections.abc import Callable
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


@pytest.fixture(scope="session", params=["mediapipe", pytest.param("torch", marks=pytest.mark.slow)])
def pose_backend(request) -> str:
    """The pose backend whose keypoints `squat_ref` and `squat_zoomed` are (tests using them run with each)."""
    return request.param


@pytest.fixture(scope="session")
def backend_keypoints(tmp_path_factory) -> Callable[[str, str], PoseSequence]:
    """Real BODY_25 keypoints of a cc-by squat clip, every frame at 30 fps, by pose backend: MediaPipe's are
    shipped (tests/data/keypoints, scripts/make_test_data.py); the torch backend's are extracted here, once."""
    made: dict[tuple[str, str], PoseSequence] = {}

    def load(clip: str, backend: str) -> PoseSequence:
        if backend == "mediapipe":
            return PoseSequence.load(DATA / "keypoints" / f"{clip}.npz")
        if (clip, backend) not in made:
            from engine.api import analyse

            cache = tmp_path_factory.mktemp("cache")
            settings = EngineSettings(cache_dir=cache, analysis_fps=30.0, pose_backend=backend)
            made[clip, backend] = analyse(DATA / f"{clip}.mp4", settings, cache=False)
        return made[clip, backend]

    return load


@pytest.fixture(scope="session")
def squat_ref(pose_backend, backend_keypoints) -> PoseSequence:
    """Real BODY_25 keypoints of the cc-by squat clip, every frame at 30 fps."""
    return backend_keypoints("squat_reference", pose_backend)


@pytest.fixture(scope="session")
def squat_zoomed(pose_backend, backend_keypoints) -> PoseSequence:
    """The zoomed and offset copy of the squat clip, same backend."""
    return backend_keypoints("squat_zoomed_offset", pose_backend)
