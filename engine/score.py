"""Scoring: turn an alignment into per-moment, per-limb errors and run the scorer model on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.align import Alignment, moment_importance
from engine.features import LimbTrack, sample_at
from models.scorer import DanceScorer, ScorerOutput

LIMB_FLOOR = 0.05  # a limb that never moves in the dance still counts this much (relative to the most moving)


@dataclass
class Errors:
    """What the scorer sees for one attempt (numpy, shapes as in models.scorer without the batch axis).

    angle_error (M, L) degrees; motion_error (M, L) 1/s; limb_weight (M, L); moment_weight (M,);
    covered (M,) 0/1; timing (3,): |log tempo|, drift RMS s, |music lag| s.
    """

    angle_error: np.ndarray
    motion_error: np.ndarray
    limb_weight: np.ndarray
    moment_weight: np.ndarray
    covered: np.ndarray
    timing: np.ndarray
    drift_rms: float
    att_dirs: np.ndarray  # (M, L, 2) matched attempt directions (for feedback)
    att_weights: np.ndarray  # (M, L)


def limb_importance(ref: LimbTrack) -> np.ndarray:
    """(L,) float32 in [LIMB_FLOOR, 1]: limbs that move in the reference dance matter more."""
    speed = (np.linalg.norm(ref.velocity, axis=-1) * ref.weights).sum(axis=0)
    seen = ref.weights.sum(axis=0)
    mean_speed = np.divide(speed, seen, out=np.zeros_like(speed), where=seen > 0)
    top = float(mean_speed.max(initial=0.0))
    rel = mean_speed / top if top > 1e-6 else np.ones_like(mean_speed)
    return (LIMB_FLOOR + (1 - LIMB_FLOOR) * rel).astype(np.float32)


def measure(ref: LimbTrack, att: LimbTrack, alignment: Alignment) -> Errors:
    """Errors of the attempt (already mirrored if the alignment says so) at each reference moment."""
    matched = alignment.attempt_times
    covered = np.isfinite(matched)
    d_att, w_att, v_att = sample_at(att, np.where(covered, matched, -1e9))
    v_att = v_att * alignment.tempo  # attempt-time derivative -> reference-time derivative
    cos = np.clip((ref.dirs * d_att).sum(-1), -1.0, 1.0)
    angle = np.degrees(np.arccos(cos)).astype(np.float32)
    motion = np.linalg.norm(ref.velocity - v_att, axis=-1).astype(np.float32)
    limb_weight = ref.weights * w_att * limb_importance(ref)[None, :]
    moment_weight = moment_importance(ref)
    # A moment the attempt cannot match (before it starts, after it ends, dancer not seen) scores 0.
    covered = covered & (w_att.sum(axis=1) > 0)
    limb_weight = np.where(covered[:, None], limb_weight, ref.weights * limb_importance(ref)[None, :])
    drift = alignment.drift[covered & (moment_weight > 0)]
    drift_rms = float(np.sqrt(np.mean((drift - np.median(drift)) ** 2))) if drift.size else 0.0
    music = (
        abs(alignment.music_lag_s + (float(np.median(drift)) if drift.size else 0.0))
        if (alignment.music_lag_s is not None)
        else 0.0
    )
    timing = np.array([abs(np.log(alignment.tempo)), drift_rms, music], dtype=np.float32)
    return Errors(
        angle_error=angle,
        motion_error=motion,
        limb_weight=limb_weight.astype(np.float32),
        moment_weight=moment_weight.astype(np.float32),
        covered=covered.astype(np.float32),
        timing=timing,
        drift_rms=drift_rms,
        att_dirs=d_att,
        att_weights=w_att,
    )


@torch.inference_mode()
def run_scorer(scorer: DanceScorer, batch: list[Errors]) -> list[ScorerOutput]:
    """Score several attempts in one batch (padded to the longest); returns one output per attempt."""
    device = next(iter(scorer.buffers())).device
    m = max(len(e.moment_weight) for e in batch)

    def stack(name: str) -> torch.Tensor:
        arrays = []
        for e in batch:
            a = getattr(e, name)
            pad = [(0, m - a.shape[0])] + [(0, 0)] * (a.ndim - 1) if name != "timing" else [(0, 0)]
            arrays.append(np.pad(a, pad))
        return torch.from_numpy(np.stack(arrays)).to(device)

    out = scorer(
        stack("angle_error"),
        stack("motion_error"),
        stack("limb_weight"),
        stack("moment_weight"),
        stack("covered"),
        stack("timing"),
    )
    results = []
    for b, e in enumerate(batch):
        n = len(e.moment_weight)
        results.append(
            ScorerOutput(
                score=out.score[b].cpu(),
                form=out.form[b].cpu(),
                timing=out.timing[b].cpu(),
                parts=out.parts[b].cpu(),
                moment_accuracy=out.moment_accuracy[b, :n].cpu(),
                limb_accuracy=out.limb_accuracy[b, :n].cpu(),
            )
        )
    return results
