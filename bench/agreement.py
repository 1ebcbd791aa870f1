"""Agreement benchmark: does the score say what a viewer would say about each pair?

    .venv/bin/python -m bench.agreement --manifest bench/pairs/shipped.json [--strict]
    .venv/bin/python -m bench.agreement --manifest bench/pairs/dev.json --media ../shared/media \\
        --cache /work/notes/cache [--json out.json]

A manifest lists pairs: an id, a kind, a reference, an attempt and the band [lo, hi] a viewer's score falls
in. A reference or attempt is a path (a video, a `.npz` pose file, or a directory of OpenPose JSON; relative
to the repository, `{media}` standing for --media), or something made from a base path:

    {"generate": "another", "base": PATH, "level": 1.0, "seed": 3}   another dancer (bench.people)
    {"generate": "copy" | "mirror" | "still", "base": PATH}           the base, mirrored, standing still
    {"generate": "late", "base": PATH, "offset_s": 1.5}              the base starting later

Every pair is scored in both directions (the attempt as the reference too) by the engine's own front door,
`engine.api.compare`, as `dancescore compare` does. Videos go through a pose store (`bench.pose_store`,
--cache): each is decoded and analysed once, then read back from `<cache>/<stem>.npz` with its music
envelope. The report: every pair (both directions and their difference), the mean score per kind, the AUC
of "same routine" against "different" (kinds in SAME_KINDS and DIFFERENT_KINDS, both directions counted),
the margin between the worst "same" and the best "different" score, every pair outside its band, and every
pair whose directions differ by more than SWAP_LIMIT. With --strict the exit code is 1 when a pair is outside
its band or failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.people import another_dancer, mirrored, standing_still
from bench.pose_store import PoseStore
from engine.errors import EngineError
from engine.sequence import PoseSequence

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("copy", "transform", "close", "another", "same", "same_dancer", "loose", "diff", "still")
SAME_KINDS = frozenset({"close", "another", "same", "same_dancer"})  # the same routine, danced fairly
DIFFERENT_KINDS = frozenset({"diff", "still"})
SWAP_LIMIT = 1.0  # points: reference and attempt swapped must agree this closely
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"})
GENERATORS = ("another", "copy", "mirror", "late", "still")


class ManifestError(ValueError):
    """A manifest that cannot be read: the message says which entry and why."""


@dataclass(frozen=True)
class Pair:
    id: str
    kind: str
    reference: str | dict[str, Any]
    attempt: str | dict[str, Any]
    band: tuple[float, float]


@dataclass
class Outcome:
    """One pair's scores: forward (attempt against reference) and backward (swapped); None where it failed."""

    id: str
    kind: str
    band: tuple[float, float]
    forward: float | None = None
    backward: float | None = None
    error: str | None = None
    skipped: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def scores(self) -> list[float]:
        return [s for s in (self.forward, self.backward) if s is not None]

    @property
    def swap(self) -> float | None:
        if self.forward is None or self.backward is None:
            return None
        return abs(self.forward - self.backward)

    @property
    def outside(self) -> bool:
        """Scored, and a direction outside the band (or a failure)."""
        if self.skipped:
            return False
        if self.error:
            return True
        lo, hi = self.band
        return any(not (lo <= s <= hi) for s in self.scores)


def read_manifest(path: Path) -> list[Pair]:
    """The pairs of a manifest file, checked."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc}") from exc
    entries = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path}: expected an object with a non-empty list 'pairs'")
    pairs, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"{path} pair {i + 1}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: expected an object")
        missing = [k for k in ("id", "kind", "reference", "attempt", "band") if k not in entry]
        if missing:
            raise ManifestError(f"{where}: missing {', '.join(missing)}")
        pid = str(entry["id"])
        if pid in seen:
            raise ManifestError(f"{where}: id {pid!r} is used twice")
        seen.add(pid)
        if entry["kind"] not in KINDS:
            raise ManifestError(f"{where} ({pid}): kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
        band = entry["band"]
        if not (isinstance(band, list) and len(band) == 2 and all(isinstance(v, int | float) for v in band)):
            raise ManifestError(f"{where} ({pid}): band must be [lo, hi]")
        if band[0] > band[1]:
            raise ManifestError(f"{where} ({pid}): band {band} has lo above hi")
        for side in ("reference", "attempt"):
            _check_source(entry[side], f"{where} ({pid}) {side}")
        pairs.append(Pair(pid, entry["kind"], entry["reference"], entry["attempt"], (float(band[0]), float(band[1]))))
    return pairs


def _check_source(spec: Any, where: str) -> None:
    if isinstance(spec, str):
        return
    if not isinstance(spec, dict) or "generate" not in spec or "base" not in spec:
        raise ManifestError(f"{where}: expected a path or {{'generate': ..., 'base': ...}}")
    if spec["generate"] not in GENERATORS:
        raise ManifestError(f"{where}: generate {spec['generate']!r} is not one of {', '.join(GENERATORS)}")
    if spec["generate"] == "another" and not isinstance(spec.get("level"), int | float):
        raise ManifestError(f"{where}: 'another' needs a number 'level'")


class Sources:
    """Turns manifest entries into what `engine.api.compare` takes: pose file paths and pose sequences."""

    def __init__(self, media: Path, store: PoseStore) -> None:
        self.media = media
        self.store = store
        self._loaded: dict[Path, PoseSequence] = {}

    def path(self, text: str) -> Path:
        path = Path(text.replace("{media}", str(self.media)))
        return path if path.is_absolute() else ROOT / path

    def missing(self, spec: str | dict[str, Any]) -> Path | None:
        """The file a source needs that is not there, or None."""
        path = self.path(spec if isinstance(spec, str) else spec["base"])
        return None if path.exists() else path

    def resolve(self, spec: str | dict[str, Any]) -> Path | PoseSequence:
        """A path compare reads itself (videos via the pose store), or a made-up pose sequence."""
        if isinstance(spec, str):
            path = self.path(spec)
            return self.store.poses(path) if path.suffix.lower() in VIDEO_SUFFIXES else path
        base = self.sequence(self.path(spec["base"]))
        how = spec["generate"]
        if how == "another":
            return another_dancer(
                base, float(spec["level"]), int(spec.get("seed", 0)), float(spec.get("offset_s", 0.0))
            )
        if how == "late":
            return another_dancer(base, 0.0, 0, float(spec.get("offset_s", 1.5)))
        if how == "mirror":
            return mirrored(base)
        if how == "still":
            return standing_still(base, int(spec.get("seed", 0)))
        return base

    def sequence(self, path: Path) -> PoseSequence:
        """The pose sequence of a video, pose file or OpenPose directory (read once)."""
        if path not in self._loaded:
            from engine.api import EngineSettings, analyse

            source = self.store.poses(path) if path.suffix.lower() in VIDEO_SUFFIXES else path
            self._loaded[path] = analyse(source, EngineSettings(cache_dir=self.store.folder / "engine"))
        return self._loaded[path]


def score_pairs(pairs: list[Pair], sources: Sources, scorer_version: str | None = None) -> list[Outcome]:
    """Score every pair in both directions through `engine.api.compare`."""
    from engine.api import EngineSettings, compare

    outcomes = []
    with tempfile.TemporaryDirectory() as scratch:
        settings = EngineSettings(cache_dir=Path(scratch))
        if scorer_version:
            settings = EngineSettings(cache_dir=Path(scratch), scorer_version=scorer_version)
        for pair in pairs:
            out = Outcome(pair.id, pair.kind, pair.band)
            outcomes.append(out)
            gone = sources.missing(pair.reference) or sources.missing(pair.attempt)
            if gone is not None:
                out.skipped = f"missing {gone}"
                continue
            try:
                ref, att = sources.resolve(pair.reference), sources.resolve(pair.attempt)
                forward, backward = compare(ref, att, settings), compare(att, ref, settings)
            except EngineError as exc:
                out.error = f"{exc.code}: {exc}"
                continue
            out.forward, out.backward = round(forward.score, 2), round(backward.score, 2)
            out.details = {
                "forward": {"form": forward.form, "timing": forward.timing, "offset_s": forward.offset_s,
                            "tempo": forward.tempo, "mirrored": forward.mirrored},
                "backward": {"form": backward.form, "timing": backward.timing, "offset_s": backward.offset_s,
                             "tempo": backward.tempo, "mirrored": backward.mirrored},
            }  # fmt: skip
            log.info("%s %s: %.2f / %.2f", pair.id, pair.kind, forward.score, backward.score)
    return outcomes


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a random positive scores above a random negative), ties counting half; NaN without both."""
    if not positives or not negatives:
        return float("nan")
    p = np.asarray(positives)[:, None]
    n = np.asarray(negatives)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """Per-kind means, AUC, margin, pairs outside their band, large swap differences."""
    scored = [o for o in outcomes if o.scores]
    kinds = {}
    for kind in KINDS:
        values = [s for o in scored if o.kind == kind for s in o.scores]
        if values:
            kinds[kind] = {"mean": float(np.mean(values)), "min": min(values), "max": max(values), "n": len(values)}
    same = [s for o in scored if o.kind in SAME_KINDS for s in o.scores]
    different = [s for o in scored if o.kind in DIFFERENT_KINDS for s in o.scores]
    return {
        "kinds": kinds,
        "auc": auc(same, different),
        "margin": (min(same) - max(different)) if same and different else float("nan"),
        "worst_same": min(same) if same else None,
        "best_different": max(different) if different else None,
        "outside": [o.id for o in outcomes if o.outside],
        "swaps": [o.id for o in outcomes if o.swap is not None and o.swap > SWAP_LIMIT],
        "skipped": [o.id for o in outcomes if o.skipped],
        "failed": [o.id for o in outcomes if o.error],
        "pairs": len(outcomes),
    }


def _fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.1f}"


def report(outcomes: list[Outcome], summary: dict[str, Any]) -> str:
    """The printed report."""
    lines = [f"{'pair':28} {'kind':12} {'band':>10}  fwd  back  swap"]
    for o in outcomes:
        if o.skipped:
            lines.append(f"{o.id:28} {o.kind:12} {'':>10}  skipped: {o.skipped}")
            continue
        band = f"[{o.band[0]:g},{o.band[1]:g}]"
        flags = []
        if o.outside:
            flags.append("OUTSIDE")
        if o.swap is not None and o.swap > SWAP_LIMIT:
            flags.append("SWAP")
        if o.error:
            flags.append(f"FAILED {o.error}")
        swap = "   -" if o.swap is None else f"{o.swap:4.1f}"
        lines.append(
            f"{o.id:28} {o.kind:12} {band:>10} {_fmt(o.forward)}  {_fmt(o.backward)}  {swap}  {' '.join(flags)}"
        )
    lines.append("")
    lines.append("per kind (both directions):  mean   min   max    n")
    for kind, k in summary["kinds"].items():
        lines.append(f"  {kind:26} {k['mean']:5.2f} {k['min']:5.1f} {k['max']:5.1f} {k['n']:4d}")
    lines.append(
        f"AUC same routine ({', '.join(sorted(SAME_KINDS))}) vs different ({', '.join(sorted(DIFFERENT_KINDS))}): "
        f"{summary['auc']:.3f}"
    )
    lines.append(
        f"margin worst same - best different: {summary['margin']:+.2f} "
        f"(worst same {_fmt(summary['worst_same'])}, best different {_fmt(summary['best_different'])})"
    )
    by_id = {o.id: o for o in outcomes}
    outside = summary["outside"]
    lines.append(f"outside their band: {len(outside)} of {summary['pairs'] - len(summary['skipped'])}")
    for pid in outside:
        o = by_id[pid]
        lines.append(f"  {pid} ({o.kind}, band {list(o.band)}): {o.error or f'{_fmt(o.forward)} / {_fmt(o.backward)}'}")
    lines.append(f"swap differences > {SWAP_LIMIT:g}: {len(summary['swaps'])}")
    for pid in summary["swaps"]:
        o = by_id[pid]
        lines.append(f"  {pid} ({o.kind}): {_fmt(o.forward)} / {_fmt(o.backward)}, difference {o.swap:.1f}")
    if summary["skipped"]:
        lines.append(f"skipped (missing media): {len(summary['skipped'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="score a manifest of pairs in both directions and report agreement")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media", help="what {media} means")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "bench-poses", help="pose store of videos")
    parser.add_argument("--json", type=Path, help="write every score and the summary here")
    parser.add_argument("--scorer-version", help="the engine's scorer version (default: the engine's default)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a pair is outside its band or failed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        pairs = read_manifest(args.manifest)
    except ManifestError as exc:
        print(f"bench.agreement: {exc}", file=sys.stderr)
        return 2
    outcomes = score_pairs(pairs, Sources(args.media, PoseStore(args.cache)), args.scorer_version)
    summary = summarise(outcomes)
    print(report(outcomes, summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "pairs": [asdict(o) for o in outcomes]}, indent=1))
    if args.strict and (summary["outside"]):
        return 1
    return 0


if __name__ == "__main__":
    from engine.native_stderr import silence_native_stderr

    silence_native_stderr()  # MediaPipe's C++ warnings; at process start, never inside main (tests call it)
    sys.exit(main())
