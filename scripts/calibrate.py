"""Fit the scorer's documented parameters (models/weights/scorer-v2.json) on real and generated pairs.

What it fits on, each case with the band a dancer would put it in:
- real pairs from a manifest of `bench/pairs/` (default: `dev.json`, the dev-only folders under ../shared/media
  when they are there): another person dancing the same movement [6.5, 9], copies and transforms [9.5, 10],
  different movements [1, 3]; both directions of each pair;
- "another dancer" cases generated from every shipped keypoint file by `bench.people.another_dancer` (the
  model of how people differ), at imitation levels from close to barely the routine, each with its band;
- the shipped pairs of `bench/pairs/shipped.json` (copies, mirror, late start, standing still, different
  routines).
What comes out of the alignment does not depend on the scorer's parameters, so every case is aligned and
measured once (`engine.score.measure_deviations`), then the parameters are fitted by gradient descent on a
loss that counts how far each score lies outside its band, and how far the two directions of a pair disagree.
Parameters are kept inside documented ranges. Deterministic: fixed seeds, fixed data.

    .venv/bin/python scripts/calibrate.py [--media ../shared/media] [--cache DIR] [--write]
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agreement import Pair, Sources, read_manifest  # noqa: E402
from bench.people import another_dancer  # noqa: E402
from bench.pose_store import PoseStore  # noqa: E402
from engine.api import EngineSettings, align_sequences, analyse  # noqa: E402
from engine.pose_cache import load_poses  # noqa: E402
from engine.score import Deviations, batch_inputs, measure_deviations  # noqa: E402
from engine.sequence import PoseSequence  # noqa: E402
from engine.skeleton import LIMB_PART, PARTS  # noqa: E402
from models.scorer import SCORE_KNOTS, DanceScorer, load_params  # noqa: E402
from tests.engine import perturb  # noqa: E402

log = logging.getLogger("calibrate")

# name -> (low, high): the range each fitted parameter is kept in (what a dancer would still call sensible).
FITTED = {
    "tolerance_deg": (20.0, 50.0),
    "match_power": (0.3, 2.5),
    "form_power": (0.3, 3.0),
    "tempo_sigma": (0.08, 0.2),
    "timing_share": (0.1, 0.6),
}
CURVE_MIN_STEP = 0.02  # points: the score curve rises at least this much between knots (strictly monotone)
# Generated "another dancer" cases: imitation level -> (target, low, high) of the score.
LEVELS = {
    0.5: (8.8, 7.5, 10.0),
    1.0: (8.0, 6.8, 9.5),
    1.5: (7.6, 6.5, 9.5),
    2.0: (7.1, 6.5, 8.8),
    3.0: (4.5, 2.0, 7.5),
    4.5: (3.0, 1.0, 5.5),
}
# Target score inside the band a manifest kind gives.
KIND_TARGET = {"same": 7.8, "another": 7.8, "close": 8.8, "copy": 9.9, "transform": 9.8, "same_dancer": 8.0,
               "diff": 1.8, "still": 1.3, "loose": 3.5}  # fmt: skip
# What a dancer would call a clearly worse performance than a copy (the behaviour tests' "most severe" changes,
# tests/engine/test_score_behaviour.py, on the squat they use): (perturbation, its argument, target, low, high);
# the tempo changes on every shipped base (every dance has a tempo), the rest on the squat only.
PERTURBATIONS = (
    ("tempo", 0.8, 7.0, 1.0, 7.7),
    ("tempo", 1.25, 7.0, 1.0, 7.7),
    ("freeze_limb", 1.0, 6.0, 1.0, 7.8),
    ("joint_noise", 0.16, 3.5, 1.0, 6.0),
    ("replace_section", 0.7, 3.0, 1.0, 5.0),
    ("growing_lag", 1.5, 7.0, 1.0, 7.8),
)
CURVE_SMOOTHNESS = 0.002  # loss per squared change of the score curve's slope (points per 0.1 quality)
SEEDS = (11, 12)
GENERATED_S = 20.0  # seconds of each shipped base used for generated cases
GROUP_WEIGHT = {"real": 6.0, "generated": 1.0, "shipped": 2.0}
BAND_MARGIN = 0.2  # points: how far inside its band the fit aims each case
SWAP_LIMIT = 0.7  # both directions of a pair should agree within this (the bar is 1.0)


@dataclass
class Case:
    name: str
    group: str
    deviations: Deviations
    target: float
    low: float
    high: float
    swap_of: str | None = None  # the name of the other direction


def _measure(ref: PoseSequence, att: PoseSequence, settings: EngineSettings, ref_env=None, att_env=None) -> Deviations:
    ref_track, oriented, alignment = align_sequences(ref, att, settings.grid_rate, ref_env, att_env)
    return measure_deviations(ref_track, oriented, alignment)


# The same performance filmed again, as tests/engine/test_video.py films it: (name, transform_video's options).
VIDEO_COPIES = (
    ("24fps-reencoded", {"fps": 24.0, "crf": 30}),
    ("cropped", {"crop": (200, 0, 1100, 720)}),
    ("mirrored", {"hflip": True}),
    ("portrait-phone-rotation", {"rotate_stored": True, "fps": 25.0}),
    ("anamorphic-2x", {"squeeze": 2}),
)


def _video_copies(settings: EngineSettings, cache: Path) -> list[Case]:
    """The shipped squat clip re-filmed five ways, through the product's own pose analysis: copies [9.5, 10]."""
    from tests.engine.test_video import transform_video

    source = ROOT / "tests" / "data" / "squat_reference.mp4"
    product = EngineSettings(cache_dir=cache / "engine")  # the product's analysis rate, not the pose store's
    ref = analyse(source, product)
    out = []
    for name, options in VIDEO_COPIES:
        video = transform_video(source, cache / f"squat-{name}.mp4", **options)
        att = analyse(video, product)
        case = f"squat-video-{name}"
        out.append(Case(case, "real", _measure(ref, att, settings), 9.9, 9.5, 10.0, case + "~"))
        out.append(Case(case + "~", "real", _measure(att, ref, settings), 9.9, 9.5, 10.0, case))
        log.info("measured %s", case)
    return out


def _first_seconds(seq: PoseSequence, seconds: float) -> PoseSequence:
    """The first `seconds` of a sequence (generated cases need not be long, and long ones cost time)."""
    keep = seq.times < seconds
    if keep.all():
        return seq
    return PoseSequence(seq.times[keep], seq.keypoints[keep], seq.present[keep], seq.frame_size, seq.backend, seconds)


def _load(source: Path | PoseSequence, settings: EngineSettings) -> tuple[PoseSequence, np.ndarray | None]:
    """A resolved manifest source as a pose sequence and its music envelope (None: no music)."""
    if isinstance(source, PoseSequence):
        return source, None
    if source.suffix == ".npz":
        return load_poses(source)
    return analyse(source, settings), None


def _pair_cases(pair: Pair, group: str, settings: EngineSettings, sources: Sources) -> list[Case]:
    a = _load(sources.resolve(pair.reference), settings)
    b = _load(sources.resolve(pair.attempt), settings)
    lo, hi = pair.band
    target = float(np.clip(KIND_TARGET.get(pair.kind, (lo + hi) / 2), lo, hi))
    out = []
    for name, (ref, att) in ((pair.id, (a, b)), (f"{pair.id}~", (b, a))):
        dev = _measure(ref[0], att[0], settings, ref[1], att[1])
        out.append(Case(name, group, dev, target, lo, hi, swap_of=f"{pair.id}~" if name == pair.id else pair.id))
    return out


def collect(media: Path, cache: Path, manifests: list[Path]) -> list[Case]:
    """Every case, aligned and measured (see the module docstring)."""
    settings = EngineSettings(cache_dir=cache / "engine")
    sources = Sources(media, PoseStore(cache))
    cases: list[Case] = []
    for manifest in manifests:
        group = "real" if manifest.name == "dev.json" else "shipped"
        for pair in read_manifest(manifest):
            if sources.missing(pair.reference) or sources.missing(pair.attempt):
                log.warning("skipping %s: its files are not here", pair.id)
                continue
            cases.extend(_pair_cases(pair, group, settings, sources))
            log.info("measured %s", pair.id)
    cases.extend(_video_copies(settings, cache))
    for path in sorted((ROOT / "tests" / "data" / "keypoints").glob("*.npz")):
        if "zoomed" in path.stem:
            continue
        seq = PoseSequence.load(path)
        seq = _first_seconds(seq, GENERATED_S)
        for level, (target, lo, hi) in LEVELS.items():
            for seed in SEEDS:
                att = another_dancer(seq, level, seed)
                name = f"{path.stem}/L{level:g}/s{seed}"
                cases.append(Case(name, "generated", _measure(seq, att, settings), target, lo, hi, name + "~"))
                cases.append(Case(name + "~", "generated", _measure(att, seq, settings), target, lo, hi, name))
        for how, arg, target, lo, hi in PERTURBATIONS:
            if how != "tempo" and not path.stem.startswith("squat"):
                continue
            att = getattr(perturb, how)(seq, arg)
            name = f"{path.stem}/{how}({arg:g})"
            cases.append(Case(name, "shipped", _measure(seq, att, settings), target, lo, hi))
        log.info("generated cases of %s", path.stem)
    return cases


def _raw(value: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return torch.logit(((value - lo) / (hi - lo)).clamp(1e-4, 1 - 1e-4))


def scores_of(params: dict, cases: list[Case]) -> torch.Tensor:
    """(N,) the scores of every case under `params` (tensors keep their gradient)."""
    plain = {k: v.tolist() if isinstance(v, torch.Tensor) else v for k, v in params.items()}
    scorer = DanceScorer(plain, LIMB_PART, len(PARTS))
    for name, value in params.items():
        setattr(scorer, name, value if isinstance(value, torch.Tensor) else torch.tensor(value))
    outs = []
    for chunk in range(0, len(cases), 64):
        outs.append(scorer(*batch_inputs([c.deviations for c in cases[chunk : chunk + 64]])).score)
    return torch.cat(outs)


def loss_of(scores: torch.Tensor, cases: list[Case]) -> torch.Tensor:
    target = torch.tensor([c.target for c in cases])
    lo = torch.tensor([c.low for c in cases])
    hi = torch.tensor([c.high for c in cases])
    weight = torch.tensor([GROUP_WEIGHT[c.group] for c in cases])
    # Aim a little inside each band, so no case sits on its edge.
    outside = torch.relu(lo + BAND_MARGIN - scores) + torch.relu(scores - hi + BAND_MARGIN)
    loss = weight * (20.0 * outside**2 + 0.1 * (scores - target) ** 2)
    index = {c.name: i for i, c in enumerate(cases)}
    pairs = [(i, index[c.swap_of]) for i, c in enumerate(cases) if c.swap_of in index and i < index[c.swap_of]]
    if pairs:
        a, b = (torch.tensor(x) for x in zip(*pairs, strict=True))
        swap = torch.relu((scores[a] - scores[b]).abs() - SWAP_LIMIT) ** 2 * weight[a]
        return (loss.sum() + 2.0 * swap.sum()) / weight.sum()
    return loss.sum() / weight.sum()


def _curve(raw: torch.Tensor) -> torch.Tensor:
    """Unconstrained (K-1,) -> a score curve from 1 to 10 rising at least CURVE_MIN_STEP per knot."""
    free = 9.0 - CURVE_MIN_STEP * len(raw)
    steps = CURVE_MIN_STEP + free * torch.softmax(raw, 0)
    return torch.cat([torch.ones(1), 1.0 + torch.cumsum(steps, 0)])


def fit(cases: list[Case], steps: int) -> dict[str, float | list[float]]:
    start = load_params()
    raw = {k: _raw(torch.tensor(start[k]), *FITTED[k]).clone().requires_grad_(True) for k in FITTED}
    curve0 = torch.tensor(start["score_curve"])
    raw_curve = torch.log((curve0.diff() - CURVE_MIN_STEP).clamp_min(1e-3)).requires_grad_(True)
    opt = torch.optim.Adam([*raw.values(), raw_curve], lr=0.05)

    def current() -> dict[str, torch.Tensor | float]:
        params: dict[str, torch.Tensor | float] = {k: v for k, v in start.items() if k != "score_curve"}
        for k, r in raw.items():
            lo, hi = FITTED[k]
            params[k] = lo + (hi - lo) * torch.sigmoid(r)
        params["score_curve"] = _curve(raw_curve)
        return params

    for step in range(steps):
        opt.zero_grad()
        params = current()
        curve = params["score_curve"]
        assert isinstance(curve, torch.Tensor)
        slope = curve.diff() / torch.tensor(SCORE_KNOTS).diff() * 0.1
        loss = loss_of(scores_of(params, cases), cases) + CURVE_SMOOTHNESS * (slope.diff() ** 2).sum()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log.info("step %d loss %.4f", step, float(loss))
    out: dict[str, float | list[float]] = {}
    for k, v in current().items():
        out[k] = [round(float(x), 3) for x in v] if isinstance(v, torch.Tensor) and v.ndim else float(v)
    return out


def report(params: dict, cases: list[Case]) -> int:
    with torch.no_grad():
        scores = scores_of(dict(params), cases).numpy()
    by_name = {c.name: s for c, s in zip(cases, scores, strict=True)}
    bad = 0
    for c, s in zip(cases, scores, strict=True):
        other = by_name.get(c.swap_of or "")
        swap = abs(s - other) if other is not None else 0.0
        flag = "" if c.low <= s <= c.high and swap <= 1.0 else "  <-- outside"
        bad += bool(flag)
        if c.group != "generated" or flag:
            print(f"{c.name:44} {c.group:9} [{c.low:4.1f},{c.high:4.1f}] {s:5.2f}  swap {swap:4.2f}{flag}")
    for level in LEVELS:
        sel = [s for c, s in zip(cases, scores, strict=True) if c.group == "generated" and f"/L{level:g}/" in c.name]
        if sel:
            print(f"generated level {level:g}: mean {np.mean(sel):.2f} min {np.min(sel):.2f} max {np.max(sel):.2f}")
    print(f"{bad} of {len(cases)} cases outside their band or swap > 1.0")
    return bad


def write(params: dict[str, float | list[float]], sources: str) -> None:
    path = ROOT / "models" / "weights" / "scorer-v2.json"
    doc = json.loads(path.read_text())
    for name, value in params.items():
        entry = doc["parameters"][name]
        entry["value"] = value if isinstance(value, list) else round(float(value), 3)
        if name in FITTED:
            lo, hi = FITTED[name]
            entry["source"] = f"fitted by scripts/calibrate.py within [{lo:g}, {hi:g}] on {sources}"
        elif name == "score_curve":
            rule = f"monotone, rising >= {CURVE_MIN_STEP} per knot"
            entry["source"] = f"fitted by scripts/calibrate.py ({rule}) on {sources}"
    path.write_text(json.dumps(doc, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description="fit the scorer's parameters")
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "cache")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reuse", action="store_true", help="reuse the measurements of the last run")
    parser.add_argument("--write", action="store_true", help="write the fitted values to scorer-v2.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    media = args.media
    store = args.cache / "calibration-measurements.pkl"
    if args.reuse and store.is_file():
        cases = pickle.loads(store.read_bytes())
        bands = {p.id: p for m in ("shipped.json", "dev.json") for p in read_manifest(ROOT / "bench" / "pairs" / m)}
        cases = [c for c in cases if "(" not in c.name or "tempo(" in c.name or c.name.startswith("squat")]
        for case in cases:  # the bands of generated cases as this script states them now
            if case.group == "generated":
                level = float(case.name.split("/L")[1].split("/")[0])
                case.target, case.low, case.high = LEVELS[level]
            for how, arg, target, lo, hi in PERTURBATIONS:
                if case.name.endswith(f"/{how}({arg:g})"):
                    case.target, case.low, case.high = target, lo, hi
            pair = bands.get(case.name.rstrip("~"))
            if pair is not None:
                case.low, case.high = pair.band
                case.target = float(np.clip(KIND_TARGET.get(pair.kind, sum(pair.band) / 2), *pair.band))
    else:
        manifests = [ROOT / "bench" / "pairs" / "shipped.json", ROOT / "bench" / "pairs" / "dev.json"]
        cases = collect(media, args.cache, manifests)
        args.cache.mkdir(parents=True, exist_ok=True)
        store.write_bytes(pickle.dumps(cases))
    print("before:")
    report(load_params(), cases)
    params = fit(cases, args.steps)
    print("after:")
    bad = report(params, cases)
    print(json.dumps({k: v for k, v in params.items() if k in FITTED or k == "score_curve"}))
    if args.write:
        groups = sorted({c.group for c in cases})
        counts = {g: sum(c.group == g for c in cases) for g in groups}
        sources = ", ".join(f"{n} {g} cases" for g, n in counts.items()) + " (see the script's docstring)"
        write(params, sources)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
