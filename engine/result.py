"""What a comparison returns: small, picklable, JSON-ready."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.scorer import DEFAULT_VERSION


@dataclass
class WeakMoment:
    """A stretch of the reference where the attempt was clearly off. Times in reference seconds."""

    start_s: float
    end_s: float
    part: str  # "arms", "legs", "torso", "head" or "timing"
    note: str  # e.g. "left arm late by about 0.4 s"
    severity: float = 0.0  # 0-1: how much of the part's accuracy was lost there, times how long, relative


@dataclass
class MomentTrack:
    """The aligned moments the score was computed on (for the annotated clip and the card).

    ref_times: (M,) float64, seconds in the reference clip.
    attempt_times: (M,) float64, seconds in the attempt clip matched to each reference moment
        (NaN where the attempt has no counterpart).
    limb_error: (M, L) float32, 0 (matches) to 1 (far off) per limb of `engine.skeleton.LIMBS`.
    moment_score: (M,) float32, 0-100 per moment.
    """

    ref_times: np.ndarray
    attempt_times: np.ndarray
    limb_error: np.ndarray
    moment_score: np.ndarray

    def attempt_to_reference(self, t: float | np.ndarray) -> np.ndarray:
        """Reference time matched to attempt time `t` (seconds), interpolated along the alignment."""
        ok = np.isfinite(self.attempt_times)
        return np.interp(t, self.attempt_times[ok], self.ref_times[ok])


@dataclass
class ScoreResult:
    """The outcome of comparing an attempt with a reference. `to_dict()` is the `--json` object."""

    score: float  # 1.0-10.0, full precision (rounded in to_dict)
    form: float  # 0-100
    timing: float  # 0-100
    parts: dict[str, float]  # arms, legs, torso, head: 0-100
    mirrored: bool
    offset_s: float  # attempt time minus reference time where the dance starts
    tempo: float  # attempt speed relative to the reference
    weak_moments: list[WeakMoment]
    feedback: list[str]
    frames: dict[str, dict[str, int]]  # {"reference": {"analysed", "with_dancer"}, "attempt": {...}}
    backend: str
    seconds: dict[str, float]  # wall time per stage
    notes: list[str] = field(default_factory=list)  # input problems worth telling the user
    offset_source: str = "pose"  # "audio" when the soundtracks fixed the offset
    clip_path: str | None = None
    card_path: str | None = None
    track: MomentTrack | None = None  # not serialised
    # The compact comparison features the scorer's final mapping consumes (named floats, fixed per scorer
    # version): enough to re-score the attempt later without its video (a calibration, a new version).
    features: dict[str, float] = field(default_factory=dict)
    scorer_version: str = DEFAULT_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("track")
        d["score"] = round(float(self.score), 1)
        d["form"] = round(float(self.form), 1)
        d["timing"] = round(float(self.timing), 1)
        d["parts"] = {k: round(float(v), 1) for k, v in self.parts.items()}
        d["offset_s"] = round(float(self.offset_s), 3)
        d["tempo"] = round(float(self.tempo), 3)
        d["seconds"] = {k: round(float(v), 3) for k, v in self.seconds.items()}
        d["features"] = {k: round(float(v), 5) for k, v in self.features.items()}
        for w in d["weak_moments"]:
            w["start_s"] = round(w["start_s"], 2)
            w["end_s"] = round(w["end_s"], 2)
            w["severity"] = round(w["severity"], 3)
        return d
