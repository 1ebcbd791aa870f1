"""A scripted stand-in for the engine behind the community core (`bot.core.ports.DanceEngine`), for the bots'
tests about the chat side: progress, refusals, concurrency, uploads. It reads real video headers, and renders
a real PNG card and a real H.264 clip so the upload paths carry real files; the score is the script's.
Tests that need a real score use `bot.core.ports.LocalEngine` (the real engine).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from bot.core.models import Dance, ReferencePose
from bot.core.ports import Progress, ScriptedEngine
from engine.decode import VideoLimits, probe
from engine.result import ScoreResult


def write_clip(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), pad_bytes: int = 0) -> None:
    """A small real H.264 MP4 (`pad_bytes` of metadata make it as large as a test needs)."""
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


def scripted_result(score: float = 7.4, **overrides: Any) -> ScoreResult:
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
        frames={},
        backend="scripted",
        seconds={},
    )
    values.update(overrides)
    return ScoreResult(**values)


@dataclass
class ScriptedClipEngine:
    """Answers each attempt with `result` (or raises `error`) after reporting progress; `gate` holds jobs."""

    result: ScoreResult = field(default_factory=scripted_result)
    error: Exception | None = None
    gate: asyncio.Event | None = None
    clip_pad_bytes: int = 0
    attempts: list[Path] = field(default_factory=list)
    attempt_bytes: list[bytes] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    on_done: Callable[[], None] | None = None  # called when a score is ready, before it is returned

    async def measure(self, video: Path) -> float:
        """The real header probe (as the real engine adapter does it)."""
        info = await asyncio.to_thread(probe, video, VideoLimits(2**62, float("inf"), 4096 * 4096))
        return float(info.duration)

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        pose_path.parent.mkdir(parents=True, exist_ok=True)
        pose_path.write_bytes(b"scripted poses")
        return ReferencePose(pose_path, await self.measure(video))

    async def score(
        self,
        dance: Dance,
        attempt: Path,
        *,
        clip_path: Path | None,
        card_path: Path | None,
        progress: Progress | None,
    ) -> ScoreResult:
        self.attempts.append(attempt)
        self.attempt_bytes.append(attempt.read_bytes())
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if progress:
                progress("analysing", 0.5)
            if self.gate is not None:
                await self.gate.wait()
            if self.error is not None:
                raise self.error
            if progress:
                progress("render", 0.9)
            if clip_path is not None:
                await asyncio.to_thread(write_clip, clip_path, pad_bytes=self.clip_pad_bytes)
            if card_path is not None:
                Image.new("RGB", (320, 180), (30, 30, 60)).save(card_path)
            if self.on_done is not None:
                self.on_done()
            return ScoreResult(
                **{
                    **self.result.__dict__,
                    "clip_path": str(clip_path) if clip_path else None,
                    "card_path": str(card_path) if card_path else None,
                }
            )
        finally:
            self.running -= 1


class FeatureEngine:
    """The scripted engine, plus the comparison features the scripted video lists (`feature.form=0.8`)."""

    def __init__(self, inner: ScriptedEngine | None = None) -> None:
        self.inner = inner or ScriptedEngine()

    async def measure(self, video: Path) -> float:
        return await self.inner.measure(video)

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        return await self.inner.analyse_reference(video, pose_path, progress)

    async def score(self, dance: Dance, attempt: Path, **options: object) -> ScoreResult:
        result = await self.inner.score(dance, attempt, **options)  # type: ignore[arg-type]
        pairs = dict(token.split("=", 1) for token in attempt.read_text().split() if "=" in token)
        features = {k.removeprefix("feature."): float(v) for k, v in pairs.items() if k.startswith("feature.")}
        return replace(result, features=features)
