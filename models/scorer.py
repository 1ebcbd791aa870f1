"""The scorer: a small PyTorch module mapping aligned per-moment, per-limb errors to the score.

Every parameter is a named, documented quantity (see `models/weights/scorer-v1.json`, which gives each
one's meaning, unit and where its value comes from) rather than an opaque trained weight: the project
has no public set of human-rated dance attempts to fit on, and the student project that preceded it
showed what fitting 190 private videos gives. The behaviour the parameters must produce is pinned by the
behaviour tests in `tests/engine/test_score_behaviour.py`.

Shapes (B attempts, M reference moments, L limbs, P body parts; the caller says which part each limb is in):
    angle_error:  (B, M, L) float32, degrees between the reference's and the attempt's limb direction
    motion_error: (B, M, L) float32, 1/s, |reference limb velocity - attempt limb velocity| (unit vectors)
    limb_weight:  (B, M, L) float32 >= 0, confidence of both limbs x how much the limb moves in the dance
    moment_weight:(B, M) float32 >= 0, how much each reference moment counts (0: no dancer in the reference)
    covered:      (B, M) float32 0/1, the attempt has a counterpart for the moment (else it scores 0)
    timing:       (B, 4) float32, |log tempo|, drift RMS in seconds, |lag behind the music| in seconds,
                  1 - motion sync (share of the reference's limb motion the attempt reproduces when matched)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass
class ScorerOutput:
    """score: (B,) 1-10. form, timing: (B,) 0-100. parts: (B, P) 0-100 (NaN where a part was never seen).
    moment_accuracy: (B, M) 0-1. limb_accuracy: (B, M, L) 0-1."""

    score: torch.Tensor
    form: torch.Tensor
    timing: torch.Tensor
    parts: torch.Tensor
    moment_accuracy: torch.Tensor
    limb_accuracy: torch.Tensor


class DanceScorer(nn.Module):
    """Tolerance curve per limb -> weighted form; timing penalties; both combined into a 1-10 score."""

    PARAMETERS = (
        "tolerance_deg",
        "tolerance_power",
        "limb_mean_power",
        "motion_deg_per_unit",
        "tempo_sigma",
        "drift_sigma_s",
        "music_lag_sigma_s",
        "sync_sigma",
        "timing_share",
        "score_centre",
        "score_width",
    )
    # The buffers registered below, typed for mypy (torch types module attributes as Tensor | Module).
    tolerance_deg: torch.Tensor
    tolerance_power: torch.Tensor
    limb_mean_power: torch.Tensor
    motion_deg_per_unit: torch.Tensor
    tempo_sigma: torch.Tensor
    drift_sigma_s: torch.Tensor
    music_lag_sigma_s: torch.Tensor
    sync_sigma: torch.Tensor
    timing_share: torch.Tensor
    score_centre: torch.Tensor
    score_width: torch.Tensor
    part_of: torch.Tensor

    def __init__(self, params: dict[str, float], limb_part: Sequence[int], n_parts: int) -> None:
        """`limb_part[l]`: the index (0 to `n_parts` - 1) of the body part limb `l` belongs to."""
        super().__init__()
        missing = [p for p in self.PARAMETERS if p not in params]
        if missing:
            raise ValueError(f"scorer parameters missing: {missing}")
        for name in self.PARAMETERS:
            self.register_buffer(name, torch.tensor(float(params[name]), dtype=torch.float32))
        part_of = torch.zeros(len(limb_part), n_parts)
        part_of[torch.arange(len(limb_part)), torch.tensor(list(limb_part))] = 1.0
        self.register_buffer("part_of", part_of)  # (L, P) one-hot

    def forward(
        self,
        angle_error: torch.Tensor,
        motion_error: torch.Tensor,
        limb_weight: torch.Tensor,
        moment_weight: torch.Tensor,
        covered: torch.Tensor,
        timing: torch.Tensor,
    ) -> ScorerOutput:
        err = torch.sqrt(angle_error**2 + (self.motion_deg_per_unit * motion_error) ** 2)
        limb_acc = 1.0 / (1.0 + (err / self.tolerance_deg) ** self.tolerance_power)  # (B, M, L)
        limb_acc = limb_acc * covered[..., None]
        lw = limb_weight + 1e-9 * (limb_weight.sum(dim=-1, keepdim=True) == 0)
        # Power mean over limbs (exponent < 1): one important limb far off pulls the moment down.
        p = self.limb_mean_power
        moment_acc = ((lw * (limb_acc + 1e-6) ** p).sum(-1) / lw.sum(-1)) ** (1.0 / p)  # (B, M)
        mw = moment_weight
        form = (mw * moment_acc).sum(-1) / mw.sum(-1).clamp_min(1e-9)
        part_w = lw @ self.part_of  # (B, M, P)
        part_acc = ((lw * limb_acc) @ self.part_of) / part_w.clamp_min(1e-9)
        seen = (part_w > 1e-6).float() * mw[..., None]
        parts = (seen * part_acc).sum(1) / seen.sum(1).clamp_min(1e-9)
        parts = torch.where(seen.sum(1) > 1e-6, parts, torch.full_like(parts, float("nan")))
        tempo_dev, drift, music_lag, unsync = timing.unbind(-1)
        timing_q = torch.exp(
            -((tempo_dev / self.tempo_sigma) ** 2)
            - (drift / self.drift_sigma_s) ** 2
            - (music_lag / self.music_lag_sigma_s) ** 2
            - (unsync.clamp_min(0.0) / self.sync_sigma) ** 2
        )
        quality = form * ((1.0 - self.timing_share) + self.timing_share * timing_q)
        score = 1.0 + 9.0 * self.calibrate(quality.clamp(0.0, 1.0))
        return ScorerOutput(score, 100 * form, 100 * timing_q, 100 * parts, moment_acc, limb_acc)

    def calibrate(self, quality: torch.Tensor) -> torch.Tensor:
        """Quality 0-1 -> 0-1 through a logistic curve rescaled so that 0 -> 0 and 1 -> 1 exactly."""

        def curve(q: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid((q - self.score_centre) / self.score_width)

        lo, hi = curve(torch.zeros_like(quality)), curve(torch.ones_like(quality))
        return (curve(quality) - lo) / (hi - lo)


_REGISTRY = {"v1": "scorer-v1.json"}


def load_params(version: str = "v1") -> dict[str, float]:
    """The documented parameter file of a scorer version, values only."""
    doc = json.loads((WEIGHTS_DIR / _REGISTRY[version]).read_text())
    return {name: float(entry["value"]) for name, entry in doc["parameters"].items()}


def build_scorer(version: str, device: str | torch.device, limb_part: Sequence[int], n_parts: int) -> DanceScorer:
    """Build a scorer by version name with its shipped parameters, on a device, in eval mode."""
    if version not in _REGISTRY:
        raise ValueError(f"unknown scorer version {version!r}; known: {sorted(_REGISTRY)}")
    return DanceScorer(load_params(version), limb_part, n_parts).to(device).eval()
