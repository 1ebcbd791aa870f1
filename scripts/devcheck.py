"""Development check on real dance videos that may not enter the repo (../shared/media/dev-only).

Prints, for each pair, the score and what the issue expects of it:
    feelreal_b vs feelreal_a                 >= 7   (two women, the same routine)
    feelreal_a / feelreal_b vs punch, squat  <= 3   (a different movement as the reference)
    feelreal_a_untrimmed vs feelreal_a       >= 9, offset ~ 3.05 s
and a few more pairs for context. Every video goes through the real pipeline (decode, pose, align, score).

    .venv/bin/python scripts/devcheck.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (attempt, reference, expectation, check)
PAIRS = [
    ("dev-only/feelreal_b.mp4", "dev-only/feelreal_a.mp4", ">= 7", lambda r: r.score >= 7),
    (
        "dev-only/feelreal_a_untrimmed.mp4",
        "dev-only/feelreal_a.mp4",
        ">= 9, offset 3.05 s",
        lambda r: r.score >= 9 and abs(r.offset_s - 3.05) <= 0.1,
    ),
    ("dev-only/feelreal_a.mp4", "dev-only/punch_side.mp4", "<= 3", lambda r: r.score <= 3),
    ("dev-only/feelreal_b.mp4", "dev-only/punch_side.mp4", "<= 3", lambda r: r.score <= 3),
    ("dev-only/feelreal_a.mp4", "cc-by/squat_reference.mp4", "<= 3", lambda r: r.score <= 3),
    ("dev-only/feelreal_b.mp4", "cc-by/squat_reference.mp4", "<= 3", lambda r: r.score <= 3),
    ("dev-only/punch_side.mp4", "dev-only/feelreal_a.mp4", "<= 3", lambda r: r.score <= 3),
    ("cc-by/squat_reference.mp4", "dev-only/feelreal_a.mp4", "<= 3", lambda r: r.score <= 3),
    (
        "cc-by/squat_zoomed_offset.mp4",
        "cc-by/squat_reference.mp4",
        ">= 9, offset -0.3 s",
        lambda r: r.score >= 9 and abs(r.offset_s + 0.3) <= 0.1,
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description="score real dev-only video pairs")
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from engine.api import EngineSettings, compare
    from engine.native_stderr import silence_native_stderr

    silence_native_stderr()
    failures = 0
    with tempfile.TemporaryDirectory() as cache:
        settings = EngineSettings(cache_dir=Path(cache))
        print(f"{'attempt':34} {'reference':28} {'expect':20} score  form timing offset  tempo  mirrored")
        for attempt, reference, expect, check in PAIRS:
            a, r = args.media / attempt, args.media / reference
            if not a.exists() or not r.exists():
                print(f"{attempt:34} {reference:28} missing media, skipped")
                continue
            res = compare(r, a, settings)
            ok = check(res)
            failures += not ok
            print(
                f"{Path(attempt).name:34} {Path(reference).name:28} {expect:20} {res.score:5.1f} {res.form:5.0f} "
                f"{res.timing:6.0f} {res.offset_s:6.2f}  {res.tempo:5.2f}  {res.mirrored!s:8} "
                f"{'ok' if ok else 'NOT MET'}"
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
