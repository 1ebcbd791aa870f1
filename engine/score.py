"""Scoring: turn an alignment into per-moment, per-limb errors and run the scorer model on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.align import Alignment, limb_spread_weights, moment_importance
from engine.features import LimbTrack, sample_at
from engine.skeleton import PARTS
from models.scorer import DanceScorer, ScorerOutput

LIMB_FLOOR = 0.02  # a limb that never moves in the dance still counts this much (relative to the most moving)


@dataclass
class Errors:
    """What the scorer sees for one attempt (numpy, shapes as in models.scorer without the batch axis).

    angle_error (M, L) degrees; motion_error (M, L) 1/s; limb_weight (M, L); moment_weight (M,);
    covered (M,) 0/1; timing (4,): |log tempo|, drift RMS s, |music lag| s, 1 - motion sync.
    """

    angle_error: np.ndarray
    motion_error: np.ndarray
    limb_weight: np.ndarray
    moment_weight: np.ndarray
    covered: np.ndarray
    timing: np.ndarray
    att_dirs: np.ndarray  # (M, L, 2) matched attempt directions (for feedback)
    att_weights: np.ndarray  # (M, L)

    @property
    def drift_rms(self) -> float:
        """Seconds: how much the warp wanders around the straight time map (timing[1])."""
        return float(self.timing[1])


def limb_importance(ref: LimbTrack) -> np.ndarray:
    """(L,) float32 in [LIMB_FLOOR, 1]: limbs whose direction ranges widely in the reference matter more.

    The range is the circular spread of the limb's direction (1 - length of its mean unit vector), which
    estimator jitter barely moves, unlike speed.
    """
    return limb_spread_weights(ref, LIMB_FLOOR)


def motion_sync(ref: LimbTrack, att_velocity: np.ndarray, importance: np.ndarray, covered: np.ndarray) -> float:
    """Does the attempt move when the reference moves? The share (0-1) of the reference's limb motion that
    the attempt reproduces at the matched moments: sum of min(reference speed, attempt speed) over sum of
    reference speed, per limb and moment, weighted by the limbs' importance. Moving more than the
    reference is not rewarded; standing still scores 0; a frozen limb loses its share for as long as it is.

    att_velocity: (M, L, 2) attempt limb velocities at the matched moments, in reference time (1/s).
    """
    ok = covered & (ref.weights.sum(axis=1) > 0)
    a = np.linalg.norm(ref.velocity, axis=-1) * ok[:, None]  # (M, L)
    b = np.linalg.norm(att_velocity, axis=-1)
    w = importance[None, :] * ref.weights
    total = float((w * a).sum())
    return float((w * np.minimum(a, b)).sum() / total) if total > 1e-9 else 1.0


def measure(ref: LimbTrack, att: LimbTrack, alignment: Alignment) -> Errors:
    """Errors of the attempt (already mirrored if the alignment says so) at each reference moment."""
    matched = alignment.attempt_times
    covered = np.isfinite(matched)
    d_att, w_att, v_att = sample_at(att, np.where(covered, matched, -1e9))
    v_att = v_att * alignment.stretch  # attempt-time derivative -> reference-time derivative
    cos = np.clip((ref.dirs * d_att).sum(-1), -1.0, 1.0)
    angle = np.degrees(np.arccos(cos)).astype(np.float32)
    motion = np.linalg.norm(ref.velocity - v_att, axis=-1).astype(np.float32)
    importance = limb_importance(ref)
    limb_weight = ref.weights * w_att * importance[None, :]
    moment_weight = moment_importance(ref)
    # A moment the attempt cannot match (before it starts, after it ends, dancer not seen) scores 0.
    covered = covered & (w_att.sum(axis=1) > 0)
    limb_weight = np.where(covered[:, None], limb_weight, ref.weights * importance[None, :])
    drift = alignment.drift[covered & (moment_weight > 0)]
    drift_rms = float(np.sqrt(np.mean((drift - np.median(drift)) ** 2))) if drift.size else 0.0
    music = (
        abs(alignment.music_lag_s + (float(np.median(drift)) if drift.size else 0.0))
        if (alignment.music_lag_s is not None)
        else 0.0
    )
    sync = motion_sync(ref, v_att, importance, covered)
    timing = np.array([abs(np.log(alignment.tempo)), drift_rms, music, 1.0 - sync], dtype=np.float32)
    return Errors(
        angle_error=angle,
        motion_error=motion,
        limb_weight=limb_weight.astype(np.float32),
        moment_weight=moment_weight.astype(np.float32),
        covered=covered.astype(np.float32),
        timing=timing,
        att_dirs=d_att,
        att_weights=w_att,
    )


def comparison_features(out: ScorerOutput, errors: Errors) -> dict[str, float]:
    """The compact features of one comparison (named floats) that the score is a function of."""
    tempo_dev, drift, music_lag, unsync = (float(x) for x in errors.timing)
    feats = {"form": float(out.form) / 100, "timing": float(out.timing) / 100}
    for part, value in zip(PARTS, out.parts.tolist(), strict=True):
        feats[f"part_{part}"] = float(value) / 100 if np.isfinite(value) else float("nan")
    feats.update(tempo_dev=tempo_dev, drift_s=drift, music_lag_s=music_lag, unsync=unsync)
    return feats


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
