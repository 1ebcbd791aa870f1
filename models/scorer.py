"""The scorer: a small PyTorch module mapping an aligned comparison to the 1-10 score.

Every parameter is a named, documented quantity (see `models/weights/scorer-v2.json`, which gives each one's
meaning, unit and where its value comes from) rather than an opaque trained weight: the project has no public
set of human-rated dance attempts to fit on. `scripts/calibrate.py` fits the values on real cross-person pairs
and on generated "another dancer" cases; the behaviour they must produce is pinned by the tests in
`tests/engine/test_score_behaviour.py` and `tests/engine/test_agreement.py`.

The score multiplies four things a dancer recognises:
- match: do the attempt's limbs move with the reference's? Per limb, the correlation over time of the two
  direction trajectories about their own means (1: every swing mirrored in time, 0: unrelated or frozen).
- form: how close the limb directions are, moment by moment, through a tolerance curve; a robust (trimmed)
  mean over moments, so a few legitimately different seconds do not sink the score.
- coverage: how much of the reference's dancing the attempt has a counterpart for.
- timing: tempo against the reference and lag behind the music, with tolerances taken from how people differ.
An alignment that is not credible (best fit at the edge of the tempo search) caps the score low. The
product, a quality from 0 to 1, becomes the score through a monotone piecewise-linear curve.

Shapes (B attempts, M reference moments, L limbs, P body parts; the caller says which part each limb is in):
    angle_error:  (B, M, L) float32, degrees between the reference's and the attempt's limb direction
    pair_weight:  (B, M, L) float32 >= 0, confidence of both limbs x how much the limb counts in this dance
    moment_weight:(B, M) float32 >= 0, how much each reference moment counts (0: no dancer in the reference)
    covered:      (B, M) float32 0/1, the attempt has a counterpart for the moment (else it scores 0)
    limb_match:   (B, L) float32 -1..1, per-limb correlation of direction trajectories
    limb_share:   (B, L) float32 >= 0, how much each limb counts in the match
    summary:      (B, 4) float32: coverage 0-1, |log tempo| (scaled by how much dance backs it), |lag behind
                  the music| in seconds (0 without shared music), credible 0/1
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_VERSION = "v2"
# Qualities (0-1) at which the score curve's values are given; closer together where the scale is decided.
SCORE_KNOTS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass
class ScorerOutput:
    """score: (B,) 1-10. form, timing, match: (B,) 0-100. parts: (B, P) 0-100 (NaN where a part was never
    seen). quality: (B,) 0-1, what the score is a monotone map of. moment_accuracy: (B, M) 0-1.
    limb_accuracy: (B, M, L) 0-1."""

    score: torch.Tensor
    form: torch.Tensor
    timing: torch.Tensor
    match: torch.Tensor
    parts: torch.Tensor
    quality: torch.Tensor
    moment_accuracy: torch.Tensor
    limb_accuracy: torch.Tensor


class DanceScorer(nn.Module):
    """match^a x form^b x coverage x timing = quality -> a monotone curve onto 1-10 (see the module docstring)."""

    PARAMETERS = (
        "tolerance_deg",
        "tolerance_power",
        "trim_share",
        "match_power",
        "match_full",
        "form_power",
        "coverage_low",
        "coverage_full",
        "tempo_sigma",
        "music_lag_sigma_s",
        "timing_share",
        "no_match_quality",
        "score_curve",
    )
    # The buffers registered below, typed for mypy (torch types module attributes as Tensor | Module).
    tolerance_deg: torch.Tensor
    tolerance_power: torch.Tensor
    trim_share: torch.Tensor
    match_power: torch.Tensor
    match_full: torch.Tensor
    form_power: torch.Tensor
    coverage_low: torch.Tensor
    coverage_full: torch.Tensor
    tempo_sigma: torch.Tensor
    music_lag_sigma_s: torch.Tensor
    timing_share: torch.Tensor
    no_match_quality: torch.Tensor
    score_curve: torch.Tensor
    part_of: torch.Tensor
    knots: torch.Tensor

    def __init__(self, params: dict[str, float | list[float]], limb_part: Sequence[int], n_parts: int) -> None:
        """`limb_part[l]`: the index (0 to `n_parts` - 1) of the body part limb `l` belongs to."""
        super().__init__()
        missing = [p for p in self.PARAMETERS if p not in params]
        if missing:
            raise ValueError(f"scorer parameters missing: {missing}")
        for name in self.PARAMETERS:
            value = params[name]
            self.register_buffer(name, torch.tensor(value if isinstance(value, list) else float(value)))
        if self.score_curve.shape != (len(SCORE_KNOTS),) or bool((self.score_curve.diff() < 0).any()):
            raise ValueError(f"score_curve must be {len(SCORE_KNOTS)} non-decreasing scores (at SCORE_KNOTS)")
        self.register_buffer("knots", torch.tensor(SCORE_KNOTS))
        part_of = torch.zeros(len(limb_part), n_parts)
        part_of[torch.arange(len(limb_part)), torch.tensor(list(limb_part))] = 1.0
        self.register_buffer("part_of", part_of)  # (L, P) one-hot

    def forward(
        self,
        angle_error: torch.Tensor,
        pair_weight: torch.Tensor,
        moment_weight: torch.Tensor,
        covered: torch.Tensor,
        limb_match: torch.Tensor,
        limb_share: torch.Tensor,
        summary: torch.Tensor,
    ) -> ScorerOutput:
        limb_acc = 1.0 / (1.0 + (angle_error / self.tolerance_deg).clamp_min(0.0) ** self.tolerance_power)
        limb_acc = limb_acc * covered[..., None]  # (B, M, L)
        lw = pair_weight + 1e-9 * (pair_weight.sum(dim=-1, keepdim=True) == 0)
        moment_acc = (lw * limb_acc).sum(-1) / lw.sum(-1)  # (B, M)
        form = self.trimmed_mean(moment_acc, moment_weight)
        part_w = lw @ self.part_of  # (B, M, P)
        part_acc = ((lw * limb_acc) @ self.part_of) / part_w.clamp_min(1e-9)
        seen = (part_w > 1e-6).float() * moment_weight[..., None]
        part_form = (seen * part_acc).sum(1) / seen.sum(1).clamp_min(1e-9)  # (B, P)
        # Pose estimation alone keeps a copy of the same performance, filmed again, under a perfect 1: from
        # match_full on, the limbs move together as well as two recordings can show.
        match = (limb_share * limb_match).sum(-1) / limb_share.sum(-1).clamp_min(1e-9)
        match = (match / self.match_full).clamp(0.0, 1.0)
        # A part as the whole is scored: its own form and match (a part that barely moves in the dance is
        # judged on form alone: its match is noise).
        part_share = limb_share @ self.part_of  # (B, P)
        part_match = (limb_share * limb_match) @ self.part_of / part_share.clamp_min(1e-9)
        part_match = (part_match / self.match_full).clamp(0.0, 1.0)
        moving = part_share / (self.part_of.sum(0) * limb_share.amax(-1, keepdim=True)).clamp_min(1e-9)
        part_match = torch.where(moving > 0.25, part_match, torch.ones_like(part_match))
        parts = (part_match + 1e-6) ** self.match_power * (part_form + 1e-6) ** self.form_power
        parts = torch.where(seen.sum(1) > 1e-6, parts, torch.full_like(parts, float("nan")))
        coverage, tempo_dev, music_lag, credible = summary.unbind(-1)
        cover = ((coverage - self.coverage_low) / (self.coverage_full - self.coverage_low)).clamp(0.0, 1.0)
        timing_q = torch.exp(-((tempo_dev / self.tempo_sigma) ** 2) - (music_lag / self.music_lag_sigma_s) ** 2)
        timing = (1.0 - self.timing_share) + self.timing_share * timing_q
        quality = (match + 1e-6) ** self.match_power * (form + 1e-6) ** self.form_power * cover * timing
        quality = torch.where(credible > 0.5, quality, torch.minimum(quality, self.no_match_quality))
        score = self.calibrate(quality)
        return ScorerOutput(score, 100 * form, 100 * timing_q, 100 * match, 100 * parts, quality, moment_acc, limb_acc)

    def trimmed_mean(self, values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """(B, M), (B, M) -> (B,): the weighted mean of `values` without their lowest `trim_share` of weight
        (the moment straddling the cut counts in part)."""
        order = torch.argsort(values, dim=-1)
        v = torch.gather(values, -1, order)
        w = torch.gather(weights, -1, order)
        total = w.sum(-1, keepdim=True).clamp_min(1e-9)
        before = (torch.cumsum(w, -1) - w) / total  # share of weight below each moment
        after = before + w / total
        keep = ((after - self.trim_share) / (after - before).clamp_min(1e-9)).clamp(0.0, 1.0)
        kw = w * keep
        return (kw * v).sum(-1) / kw.sum(-1).clamp_min(1e-9)

    def calibrate(self, quality: torch.Tensor) -> torch.Tensor:
        """Quality 0-1 -> score 1-10: the monotone curve through (SCORE_KNOTS[k], score_curve[k])."""
        q = quality.clamp(0.0, 1.0)
        k = torch.searchsorted(self.knots, q.detach().contiguous(), right=True).clamp(1, len(SCORE_KNOTS) - 1)
        q0, q1 = self.knots[k - 1], self.knots[k]
        s0, s1 = self.score_curve[k - 1], self.score_curve[k]
        return s0 + (s1 - s0) * (q - q0) / (q1 - q0)


_REGISTRY = {"v2": "scorer-v2.json"}


def load_params(version: str = DEFAULT_VERSION) -> dict[str, float | list[float]]:
    """The documented parameter file of a scorer version, values only."""
    doc = json.loads((WEIGHTS_DIR / _REGISTRY[version]).read_text())
    return {
        name: [float(v) for v in entry["value"]] if isinstance(entry["value"], list) else float(entry["value"])
        for name, entry in doc["parameters"].items()
    }


def build_scorer(
    version: str,
    device: str | torch.device,
    limb_part: Sequence[int],
    n_parts: int,
    params: dict[str, float | list[float]] | None = None,
) -> DanceScorer:
    """Build a scorer by version name with its shipped parameters (or `params`), on a device, in eval mode."""
    if version not in _REGISTRY:
        raise ValueError(f"unknown scorer version {version!r}; known: {sorted(_REGISTRY)}")
    return DanceScorer(params or load_params(version), limb_part, n_parts).to(device).eval()
