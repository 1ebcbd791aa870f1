"""A scripted stand-in for the scoring engine, for adapter tests about the chat side (progress, refusals,
concurrency, uploads). It renders a real PNG card and a real H.264 clip so the upload paths are exercised;
the score itself is the script's. Tests that need a real score use the real engine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from bot.engine_client import Progress
from engine.errors import EngineError
from engine.result import ScoreResult


def job_fields(**fields: Any) -> dict[str, Any]:
    """`ScoringFlow(make_job=job_fields)`: the job as a plain dict."""
    return fields


def write_clip(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), pad_bytes: int = 0) -> None:
    """A small real H.264 MP4 (`pad_bytes` of junk metadata make it as large as a test needs)."""
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
        feedback=[
            "Your left arm is late at 0:03.",
            "Bend your knees more at 0:05.",
            "Great timing in the chorus.",
        ],
        frames={},
        backend="scripted",
        seconds={},
    )
    values.update(overrides)
    return ScoreResult(**values)


@dataclass
class ScriptedEngine:
    """Answers each job with `result` (or raises `error`) after reporting progress; `gate` holds jobs back."""

    result: ScoreResult = field(default_factory=scripted_result)
    error: EngineError | None = None
    gate: asyncio.Event | None = None
    clip_pad_bytes: int = 0
    jobs: list[dict[str, Any]] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    closed: bool = False

    async def submit(self, job: dict[str, Any], progress: Progress | None = None) -> ScoreResult:
        self.jobs.append(job)
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
            await asyncio.to_thread(write_clip, Path(job["clip_path"]), pad_bytes=self.clip_pad_bytes)
            Image.new("RGB", (320, 180), (30, 30, 60)).save(job["card_path"])
            return ScoreResult(
                **{**self.result.__dict__, "clip_path": job["clip_path"], "card_path": job["card_path"]}
            )
        finally:
            self.running -= 1

    async def close(self) -> None:
        self.closed = True
