"""The engine gateway's fake: a `DanceEngine` that scores what a test says, refusing files as the engine does.

A "video" is either a real video file, whose header is checked like the engine checks it (not a video, too
long, too large: the same `VideoError`s), or a tiny text script of `key=value` words, for rule tests that
need no video at all: `score=7.5` (the score), `duration=12` (seconds, default 10), `fail=no_dancer` (raise
the engine's error with that code; `fail=worker_crashed` raises the pool's crash error), `feature.form=0.8`
(a comparison feature of the result, as the scorer reports them for calibration), `seconds=2.5` (how long the
analysis takes). Clips and cards are
real files (an H.264 MP4 and a PNG) so the upload paths carry real media; the score is the script's, or
`result`. It passes the same contract test as the real gateway (tests/core/test_engine_contract.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from bot.core.models import Dance, ReferencePose
from bot.core.ports import Progress
from engine.decode import VideoLimits, probe
from engine.errors import EngineError, NoDancerError, VideoError
from engine.pool.errors import WorkerCrashError
from engine.progress import Stage
from engine.result import ScoreResult


def write_clip(path: Path, frames: int = 16, size: tuple[int, int] = (64, 48), pad_bytes: int = 0) -> Path:
    """A small real H.264 MP4 at 12 fps (16 frames: over a second; `pad_bytes` of metadata make it as large
    as a test needs)."""
    with av.open(str(path), "w", format="mp4") as container:
        if pad_bytes:
            container.metadata["comment"] = "x" * pad_bytes
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            image = np.full((size[1], size[0], 3), (i * 20) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def scripted_result(score: float = 7.4, **overrides: Any) -> ScoreResult:
    """A plausible result with the given score (form and timing 78 and 64, three feedback lines)."""
    values: dict[str, Any] = dict(
        score=score,
        form=78.0,
        timing=64.0,
        parts={"arms": 80.0, "legs": 70.0, "torso": 85.0, "head": 90.0},
        mirrored=False,
        offset_s=0.2,
        tempo=1.0,
        weak_moments=[],
        feedback=["Your left arm is late at 0:03.", "Bend your knees more at 0:05.", "Great timing in the chorus."],
        frames={"reference": {"analysed": 1, "with_dancer": 1}, "attempt": {"analysed": 1, "with_dancer": 1}},
        backend="scripted",
        seconds={"total": 0.0},
    )
    values.update(overrides)
    return ScoreResult(**values)


@dataclass
class ScriptedEngine:
    """Fake `DanceEngine`. `gate`, when set, holds every `score` call until it is set (a job kept running);
    `error` is raised by every `score`; `limits` are the engine's (duration, size, pixels).

    What it saw: `calls` (heavy calls: analyses and scores), `attempts` (the paths scored) and their bytes,
    `running` and `most_at_once` (concurrent scores).
    """

    result: ScoreResult = field(default_factory=scripted_result)
    error: Exception | None = None
    gate: asyncio.Event | None = None
    limits: VideoLimits = field(default_factory=VideoLimits)
    clip_pad_bytes: int = 0
    on_done: Callable[[], None] | None = None  # called when a score is ready, before it is returned
    expected_s: float = 30.0  # what it says a job takes (`estimate_s`)
    wait_s: float = 0.0  # what it says a job waits before it starts (`estimate_s`)
    finished: list[tuple[float, float]] = field(default_factory=list)  # (score, time.monotonic()) of each
    budgets: list[int | None] = field(default_factory=list)  # the clip budget each score was given
    calls: int = 0
    attempts: list[Path] = field(default_factory=list)
    attempt_bytes: list[bytes] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        script = await self._read(video)
        self.calls += 1
        if progress is not None:
            progress(Stage.REFERENCE, 0.5)
        _fail_if_asked(script)
        pose_path.parent.mkdir(parents=True, exist_ok=True)
        pose_path.write_bytes(b"scripted poses\n")
        return ReferencePose(pose_path, float(script["duration"]))

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
        script = await self._read(attempt)
        self.budgets.append(clip_budget_bytes)
        self.calls += 1
        self.attempts.append(attempt)
        self.attempt_bytes.append(attempt.read_bytes())
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if progress is not None:
                progress(Stage.POSE, 0.5)
            if self.gate is not None:
                await self.gate.wait()
            if "seconds" in script:
                await asyncio.sleep(float(script["seconds"]))
            if self.error is not None:
                raise self.error
            _fail_if_asked(script)
            result = replace(self.result, score=float(script["score"])) if "score" in script else self.result
            features = {k.removeprefix("feature."): float(v) for k, v in script.items() if k.startswith("feature.")}
            if features:
                result = replace(result, features=features)
            if progress is not None:
                progress(Stage.RENDER, 0.9)
            if clip_path is not None:  # like the engine, within the budget it was given
                pad = self.clip_pad_bytes
                if clip_budget_bytes is not None:
                    pad = max(0, min(pad, clip_budget_bytes - 64 * 1024))
                await asyncio.to_thread(write_clip, clip_path, pad_bytes=pad)
            if card_path is not None:
                Image.new("RGB", (320, 180), (30, 30, 60)).save(card_path)
            if self.on_done is not None:
                self.on_done()
            self.finished.append((result.score, time.monotonic()))
            return replace(
                result,
                clip_path=str(clip_path) if clip_path else None,
                card_path=str(card_path) if card_path else None,
            )
        finally:
            self.running -= 1

    def estimate_s(self) -> tuple[float, float]:
        """What a test says the queue looks like: (`wait_s`, `expected_s`)."""
        return self.wait_s, self.expected_s

    async def _read(self, video: Path) -> dict[str, str]:
        """The script of a text "video", or the header of a real one, checked against the engine's limits."""
        script = _script(video)
        if script is None:
            info = await asyncio.to_thread(probe, Path(video), self.limits)  # the engine's own checks
            return {"duration": str(info.duration)}
        duration = float(script.setdefault("duration", "10"))
        if duration > self.limits.max_duration_s:
            raise VideoError(f"that video is {duration:.0f} s long; the limit is shorter", code="too_long")
        return script


def _script(video: Path) -> dict[str, str] | None:
    """`key=value` words of a small text file, or None when the file is not such a script."""
    try:
        with open(video, "rb") as handle:
            words = handle.read(4096).decode("utf-8").split()
        pairs = dict(word.split("=", 1) for word in words if "=" in word)
        float(pairs.get("duration", "10"))
        float(pairs.get("score", "1"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return pairs or None


def _fail_if_asked(script: dict[str, str]) -> None:
    code = script.get("fail")
    if code == WorkerCrashError.code:
        raise WorkerCrashError("scripted")
    if code is not None:
        error: EngineError = NoDancerError(f"scripted failure: {code}", code=code)
        raise error
