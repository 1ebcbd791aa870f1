"""Regenerate tests/data/keypoints/*.npz: BODY_25 keypoints of the cc-by clips at every frame.

Usage: .venv/bin/python scripts/make_test_data.py
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from engine.api import EngineSettings, analyse

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    with tempfile.TemporaryDirectory() as cache:
        settings = EngineSettings(cache_dir=Path(cache), analysis_fps=30.0)
        for name in ("squat_reference", "squat_zoomed_offset"):
            seq = analyse(DATA / f"{name}.mp4", settings, cache=False)
            out = DATA / "keypoints" / f"{name}.npz"
            seq.save(out)
            logging.info("%s: %d frames, %d with a dancer -> %s", name, len(seq), seq.frames_with_dancer, out)


if __name__ == "__main__":
    main()
