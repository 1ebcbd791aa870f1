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

from bench.agreement import Pair, load_manifest, resolve  # noqa: E402
from bench.people import another_dancer  # noqa: E402

from engine.api import EngineSettings, align_sequences  # noqa: E402
from engine.score import Deviations, measure_deviations  # noqa: E402
from engine.sequence import PoseSequence  # noqa: E402
from engine.skeleton import LIMB_PART, PARTS  # noqa: E402
from models.scorer import DanceScorer, load_params  # noqa: E402

log = logging.getLogger("calibrate")

# name -> (low, high): the range each fitted parameter is kept in (what a dancer would still call sensible).
FITTED = {
    "tolerance_deg": (20.0, 50.0),
    "tolerance_power": (1.5, 4.0),
    "match_power": (0.3, 2.5),
    "form_power": (0.3, 2.5),
    "tempo_sigma": (0.08, 0.4),
    "timing_share": (0.1, 0.5),
    "score_centre": (0.1, 0.6),
    "score_width": (0.04, 0.3),
}
# Generated "another dancer" cases: imitation level -> (target, low, high) of the score.
LEVELS = {
    0.5: (8.8, 7.5, 10.0),
    1.0: (8.0, 6.5, 9.3),
    1.5: (7.4, 6.5, 9.0),
    2.0: (6.8, 5.5, 8.5),
    3.0: (5.0, 3.0, 6.5),
    4.5: (3.0, 1.0, 5.0),
}
# Target score inside the band a manifest kind gives.
KIND_TARGET = {"same": 7.8, "another": 7.8, "close": 8.8, "copy": 9.9, "transform": 9.8, "same_dancer": 8.0,
               "diff": 1.8, "still": 1.3, "loose": 3.5}  # fmt: skip
SEEDS = (11, 12)
GROUP_WEIGHT = {"real": 4.0, "generated": 1.0, "shipped": 1.0}
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


def _pair_cases(pair: Pair, group: str, settings: EngineSettings, media: Path | None, cache: Path) -> list[Case]:
    a, b = resolve(pair, media, cache, settings)
    lo, hi = pair.band
    target = float(np.clip(KIND_TARGET.get(pair.kind, (lo + hi) / 2), lo, hi))
    out = []
    for name, (ref, att) in ((f"{pair.id}", (a, b)), (f"{pair.id}~", (b, a))):
        dev = _measure(ref.sequence, att.sequence, settings, ref.envelope, att.envelope)
        out.append(Case(name, group, dev, target, lo, hi, swap_of=f"{pair.id}~" if name == pair.id else pair.id))
    return out


def collect(media: Path | None, cache: Path, manifests: list[Path]) -> list[Case]:
    settings = EngineSettings(cache_dir=cache)
    cases: list[Case] = []
    bases: dict[str, PoseSequence] = {}
    for manifest in manifests:
        pairs = load_manifest(manifest)
        group = "real" if manifest.name == "dev.json" else "shipped"
        for pair in pairs:
            if pair.needs_media and media is None:
                continue
            try:
                cases.extend(_pair_cases(pair, group, settings, media, cache))
            except FileNotFoundError as exc:
                log.warning("skipping %s: %s", pair.id, exc)
            log.info("measured %s (%d cases)", pair.id, len(cases))
    for path in sorted((ROOT / "tests" / "data" / "keypoints").glob("*.npz")):
        if "zoomed" in path.stem:
            continue
        bases[path.stem] = PoseSequence.load(path)
    for stem, seq in bases.items():
        seq = seq.cut(0.0, 20.0) if seq.duration > 20.0 else seq
        for level, (target, lo, hi) in LEVELS.items():
            for seed in SEEDS:
                att = another_dancer(seq, level, seed)
                name = f"{stem}/L{level:g}/s{seed}"
                d1 = _measure(seq, att, settings)
                d2 = _measure(att, seq, settings)
                cases.append(Case(name, "generated", d1, target, lo, hi, swap_of=name + "~"))
                cases.append(Case(name + "~", "generated", d2, target, lo, hi, swap_of=name))
        log.info("generated cases of %s", stem)
    return cases


def _raw(value: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return torch.logit(((value - lo) / (hi - lo)).clamp(1e-4, 1 - 1e-4))


def scores_of(params: dict[str, torch.Tensor | float], cases: list[Case]) -> torch.Tensor:
    scorer = DanceScorer({k: float(v) for k, v in params.items()}, LIMB_PART, len(PARTS))
    for name, value in params.items():
        setattr(scorer, name, value if isinstance(value, torch.Tensor) else torch.tensor(float(value)))
    outs = []
    for chunk in range(0, len(cases), 64):
        batch = [c.deviations for c in cases[chunk : chunk + 64]]
        m = max(len(d.moment_weight) for d in batch)

        def stack(name: str, pad: bool = True, batch: list[Deviations] = batch, m: int = m) -> torch.Tensor:
            arrays = [
                np.pad(getattr(d, name), [(0, m - len(d.moment_weight))] + [(0, 0)] * (getattr(d, name).ndim - 1))
                if pad
                else getattr(d, name)
                for d in batch
            ]
            return torch.from_numpy(np.stack(arrays))

        out = scorer(
            stack("angle_error"), stack("pair_weight"), stack("moment_weight"), stack("covered"),
            stack("limb_match", False), stack("limb_share", False), stack("summary", False),
        )  # fmt: skip
        outs.append(out.score)
    return torch.cat(outs)


def loss_of(scores: torch.Tensor, cases: list[Case]) -> torch.Tensor:
    target = torch.tensor([c.target for c in cases])
    lo = torch.tensor([c.low for c in cases])
    hi = torch.tensor([c.high for c in cases])
    weight = torch.tensor([GROUP_WEIGHT[c.group] for c in cases])
    outside = torch.relu(lo - scores) + torch.relu(scores - hi)
    loss = weight * (4.0 * outside**2 + 0.1 * (scores - target) ** 2)
    index = {c.name: i for i, c in enumerate(cases)}
    pairs = [(i, index[c.swap_of]) for i, c in enumerate(cases) if c.swap_of in index and i < index[c.swap_of]]
    if pairs:
        a, b = (torch.tensor(x) for x in zip(*pairs, strict=True))
        swap = torch.relu((scores[a] - scores[b]).abs() - SWAP_LIMIT) ** 2 * weight[a]
        return (loss.sum() + 2.0 * swap.sum()) / weight.sum()
    return loss.sum() / weight.sum()


def fit(cases: list[Case], steps: int) -> dict[str, float]:
    start = load_params()
    raw = {k: _raw(torch.tensor(start[k]), *FITTED[k]).clone().requires_grad_(True) for k in FITTED}
    opt = torch.optim.Adam(raw.values(), lr=0.05)

    def current() -> dict[str, torch.Tensor | float]:
        params: dict[str, torch.Tensor | float] = dict(start)
        for k, r in raw.items():
            lo, hi = FITTED[k]
            params[k] = lo + (hi - lo) * torch.sigmoid(r)
        return params

    for step in range(steps):
        opt.zero_grad()
        loss = loss_of(scores_of(current(), cases), cases)
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            log.info("step %d loss %.4f", step, float(loss))
    return {k: float(v) for k, v in current().items()}


def report(params: dict[str, float], cases: list[Case]) -> int:
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


def write(params: dict[str, float], sources: str) -> None:
    path = ROOT / "models" / "weights" / "scorer-v2.json"
    doc = json.loads(path.read_text())
    for name, value in params.items():
        entry = doc["parameters"][name]
        entry["value"] = round(float(value), 3)
        if name in FITTED:
            lo, hi = FITTED[name]
            entry["source"] = f"fitted by scripts/calibrate.py within [{lo:g}, {hi:g}] on {sources}"
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
    media = args.media if args.media.is_dir() else None
    store = args.cache / "calibration-measurements.pkl"
    if args.reuse and store.is_file():
        cases = pickle.loads(store.read_bytes())
    else:
        manifests = [ROOT / "bench" / "pairs" / "shipped.json"] + ([ROOT / "bench" / "pairs" / "dev.json"] if media else [])
        cases = collect(media, args.cache, manifests)
        args.cache.mkdir(parents=True, exist_ok=True)
        store.write_bytes(pickle.dumps(cases))
    print("before:")
    report(load_params(), cases)
    params = fit(cases, args.steps)
    print("after:")
    bad = report(params, cases)
    print(json.dumps({k: round(v, 3) for k, v in params.items() if k in FITTED}, indent=1))
    if args.write:
        groups = sorted({c.group for c in cases})
        counts = {g: sum(c.group == g for c in cases) for g in groups}
        sources = ", ".join(f"{n} {g} cases" for g, n in counts.items()) + " (see the script's docstring)"
        write(params, sources)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
