"""Which analysis rate? Score, offset and pose time of real pairs at several pose-estimation rates.

    .venv/bin/python bench/rate.py [--media ../shared/media] [--rates 6 7.5 10 15]

The dev-only clips stay outside the repo; the cc-by squat pair is used when they are absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAIRS = [
    ("dev-only/feelreal_b.mp4", "dev-only/feelreal_a.mp4"),
    ("dev-only/feelreal_a_untrimmed.mp4", "dev-only/feelreal_a.mp4"),
    ("dev-only/feelreal_a.mp4", "dev-only/punch_side.mp4"),
    ("cc-by/squat_zoomed_offset.mp4", "cc-by/squat_reference.mp4"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--rates", type=float, nargs="+", default=[6.0, 7.5, 10.0, 15.0])
    args = parser.parse_args()
    from engine.api import EngineSettings, compare
    from engine.native_stderr import silence_native_stderr

    silence_native_stderr()
    print(f"{'attempt':26} {'reference':22} " + "  ".join(f"{r:>5g} fps (score offset pose_s)" for r in args.rates))
    for attempt, reference in PAIRS:
        a, r = args.media / attempt, args.media / reference
        if not a.exists() or not r.exists():
            continue
        cells = []
        for rate in args.rates:
            with tempfile.TemporaryDirectory() as cache:
                settings = EngineSettings(cache_dir=Path(cache), analysis_fps=rate)
                t0 = time.perf_counter()
                res = compare(r, a, settings)
                wall = time.perf_counter() - t0
                cells.append(f"{res.score:5.1f} {res.offset_s:6.2f} {res.seconds['pose']:5.1f}s ({wall:4.1f})")
        print(f"{Path(attempt).name:26} {Path(reference).name:22} " + "  ".join(f"{c:>28}" for c in cells))


if __name__ == "__main__":
    main()
