"""Scoring: measure how an aligned attempt deviates from the reference, and run the scorer model on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.align import Alignment, moment_importance
from engine.features import LimbTrack, direction_range, limb_weights, sample_at, weights_of_ranges
from engine.skeleton import PARTS
from models.scorer import DanceScorer, ScorerOutput

STILL_SD_DEG = 5.0  # a limb whose direction varies less than this (SD) is kept still: the rest is pose noise
TEMPO_EVIDENCE_S = 8.0  # seconds of dancing it takes to trust a tempo difference fully (shorter: in proportion)


@dataclass
class Deviations:
    """What the scorer sees for one attempt (numpy; the shapes of `models.scorer` without the batch axis).

    angle_error (M, L) float32 degrees; pair_weight (M, L) float32; moment_weight (M,) float32; covered (M,)
    float32 0/1; limb_match (L,) float32 -1..1; limb_share (L,) float32; summary (4,) float32: coverage 0-1,
    tempo deviation |log tempo| (scaled by TEMPO_EVIDENCE_S), |lag behind the music| s, credible 0/1.
    att_dirs (M, L, 2) float32 and att_weights (M, L) float32: the attempt's limbs at the matched moments.
    """

    angle_error: np.ndarray
    pair_weight: np.ndarray
    moment_weight: np.ndarray
    covered: np.ndarray
    limb_match: np.ndarray
    limb_share: np.ndarray
    summary: np.ndarray
    att_dirs: np.ndarray
    att_weights: np.ndarray

    @property
    def coverage(self) -> float:
        """0-1: the share of the reference's dancing the attempt has a counterpart for."""
        return float(self.summary[0])

    @property
    def music_lag(self) -> float:
        """Seconds, >= 0: how far the dance sits from the shared music (0 without shared music)."""
        return float(self.summary[2])


def covariation(
    ref_dirs: np.ndarray, ref_w: np.ndarray, att_dirs: np.ndarray, att_w: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """(L,) float32 -1..1: per limb, the correlation over time of the two direction trajectories, each about its
    own mean (1: the attempt swings the limb when and where the reference does, whatever its style; 0:
    unrelated, or one of the two keeps the limb still while the other moves it; both keeping it still agree).

    ref_dirs, att_dirs: (M, L, 2) unit vectors at matched moments; ref_w, att_w: (M, L) confidence; mask: (M,)
    bool, the moments to use. Symmetric in reference and attempt.
    """
    w = ref_w * att_w * mask[:, None]
    total = w.sum(axis=0)
    safe = np.maximum(total, 1e-9)[:, None]
    a = ref_dirs - (ref_dirs * w[..., None]).sum(axis=0) / safe
    b = att_dirs - (att_dirs * w[..., None]).sum(axis=0) / safe
    cov = (w * (a * b).sum(-1)).sum(axis=0)
    var_a = (w * (a * a).sum(-1)).sum(axis=0)
    var_b = (w * (b * b).sum(-1)).sum(axis=0)
    den = np.sqrt(var_a * var_b)
    # A limb that stays within STILL_SD_DEG is still: its "trajectory" is estimator noise, not movement.
    still = total * np.radians(STILL_SD_DEG) ** 2
    moving_a, moving_b = var_a > still, var_b > still
    ok = (total > 1e-6) & moving_a & moving_b
    corr = np.where(ok, cov / np.maximum(den, 1e-12), 0.0)
    # Both keep the limb still: they agree; one moves it and the other does not: they do not.
    return np.where((total > 1e-6) & ~moving_a & ~moving_b, 1.0, corr).astype(np.float32)


def _matched(att: LimbTrack, times: np.ndarray, stretch: float) -> LimbTrack:
    """The attempt's limbs at the given attempt times (NaN: none), as a track on the reference's grid."""
    ok = np.isfinite(times)
    d, w, v = sample_at(att, np.where(ok, times, -1e9))
    return LimbTrack(att.times[:0], d, w * ok[:, None], v * stretch, att.rate)


def measure_deviations(ref: LimbTrack, att: LimbTrack, alignment: Alignment) -> Deviations:
    """How the attempt (already mirrored if the alignment says so) deviates from the reference, moment by
    moment at the reference's grid times."""
    warped = _matched(att, alignment.attempt_times, alignment.stretch)
    straight = _matched(att, alignment.straight_times, alignment.stretch)
    covered = (np.isfinite(alignment.attempt_times)) & (warped.weights.sum(axis=1) > 0)
    cos = np.clip((ref.dirs * warped.dirs).sum(-1), -1.0, 1.0)
    angle = np.degrees(np.arccos(cos)).astype(np.float32)
    # A limb counts by how much it moves in the dance, as danced by either of the two: a limb the reference
    # moves and the attempt keeps still (or the other way round) counts fully, and is found wanting.
    matched_track = LimbTrack(ref.times, warped.dirs, warped.weights, warped.velocity, ref.rate)
    att_range = direction_range(matched_track, covered)
    ref_share, att_share = limb_weights(ref), weights_of_ranges(att_range)
    share = np.maximum(ref_share, att_share)
    # In the match a limb counts as much as both move it (a limb one pose estimate sees swinging about, hidden
    # behind the body, does not outweigh the dance), except where one keeps it still and the other moves it:
    # that is the disagreement the match is for, and it counts fully.
    still_ref = direction_range(ref, covered) < STILL_SD_DEG
    still_att = att_range < STILL_SD_DEG
    match_share = np.where(still_ref ^ still_att, share, np.sqrt(ref_share * att_share))
    ref_importance = moment_importance(ref)
    att_importance = moment_importance(matched_track)
    moment_weight = np.where(covered, 0.5 * (ref_importance + att_importance), ref_importance)
    pair_weight = np.where(covered[:, None], ref.weights * warped.weights, ref.weights) * share[None, :]
    # A limb out of frame in either clip (feet cut off) says nothing about the match: it counts as much as it
    # is seen in both at the matched moments.
    both = (ref.weights > 0) & (warped.weights > 0) & covered[:, None]
    seen = both.sum(axis=0) / max(1, int(covered.sum()))
    match = 0.5 * (
        covariation(ref.dirs, ref.weights, warped.dirs, warped.weights, covered)
        + covariation(ref.dirs, ref.weights, straight.dirs, straight.weights, covered)
    )
    total = float(ref_importance.sum())
    coverage = float(ref_importance[covered].sum()) / total if total > 0 else 0.0
    danced = float(covered.sum()) / ref.rate
    tempo_dev = abs(float(np.log(alignment.tempo))) * min(1.0, danced / TEMPO_EVIDENCE_S)
    drift = alignment.drift[covered]
    music = (
        abs(alignment.music_lag_s + (float(np.median(drift)) if drift.size else 0.0))
        if alignment.music_lag_s is not None
        else 0.0
    )
    summary = np.array([coverage, tempo_dev, music, float(alignment.credible)], dtype=np.float32)
    return Deviations(
        angle_error=angle,
        pair_weight=pair_weight.astype(np.float32),
        moment_weight=moment_weight.astype(np.float32),
        covered=covered.astype(np.float32),
        limb_match=match.astype(np.float32),
        limb_share=(match_share**2 * seen).astype(np.float32),
        summary=summary,
        att_dirs=warped.dirs,
        att_weights=warped.weights,
    )


def comparison_features(out: ScorerOutput, deviations: Deviations) -> dict[str, float]:
    """The compact features of one comparison (named floats) that the score is a function of."""
    coverage, tempo_dev, music_lag, credible = (float(x) for x in deviations.summary)
    feats = {
        "match": float(out.match) / 100,
        "form": float(out.form) / 100,
        "timing": float(out.timing) / 100,
        "coverage": coverage,
        "tempo_dev": tempo_dev,
        "music_lag_s": music_lag,
        "credible": credible,
    }
    for part, value in zip(PARTS, out.parts.tolist(), strict=True):
        feats[f"part_{part}"] = float(value) / 100 if np.isfinite(value) else float("nan")
    return feats


_PER_MOMENT = ("angle_error", "pair_weight", "moment_weight", "covered")
_PER_ATTEMPT = ("limb_match", "limb_share", "summary")


def batch_inputs(batch: list[Deviations], device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """The scorer's inputs for several attempts, in `DanceScorer.forward`'s order: per-moment arrays padded
    with zeros to the longest attempt (a padded moment weighs nothing), per-attempt arrays stacked."""
    m = max(len(d.moment_weight) for d in batch)

    def stack(name: str) -> torch.Tensor:
        arrays = [getattr(d, name) for d in batch]
        if name in _PER_MOMENT:
            arrays = [np.pad(a, [(0, m - a.shape[0])] + [(0, 0)] * (a.ndim - 1)) for a in arrays]
        return torch.from_numpy(np.stack(arrays)).to(device)

    return tuple(stack(name) for name in _PER_MOMENT + _PER_ATTEMPT)


@torch.inference_mode()
def run_scorer(scorer: DanceScorer, batch: list[Deviations]) -> list[ScorerOutput]:
    """Score several attempts in one batch (padded to the longest); returns one output per attempt."""
    out = scorer(*batch_inputs(batch, next(iter(scorer.buffers())).device))
    results = []
    for b, d in enumerate(batch):
        n = len(d.moment_weight)
        results.append(
            ScorerOutput(
                score=out.score[b].cpu(),
                form=out.form[b].cpu(),
                timing=out.timing[b].cpu(),
                match=out.match[b].cpu(),
                parts=out.parts[b].cpu(),
                quality=out.quality[b].cpu(),
                moment_accuracy=out.moment_accuracy[b, :n].cpu(),
                limb_accuracy=out.limb_accuracy[b, :n].cpu(),
            )
        )
    return results
