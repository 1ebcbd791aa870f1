"""Convert the AIST++ keypoint folders of the dev set into the repo's keypoint files (tests/data/keypoints).

The four folders in `../shared/media/dev-only-2/keypoints/` hold OpenPose BODY_25 JSON per frame at 30 fps,
derived from the AIST++ `keypoints2d` annotations (camera c01, every 2nd frame of 60 fps, COCO-17 mapped to
BODY_25), licensed CC BY 4.0: they may be committed with their attribution (tests/data/ATTRIBUTION.md).
Each becomes `tests/data/keypoints/aist_<short>.npz`, a `PoseSequence` as `PoseSequence.save` writes it:
times at 30 fps from 0, the 1920x1080 frame of the AIST cameras, frames without a detection kept as absent.
Coordinates are rounded to 0.1 px and confidences to 0.001 (far below the annotations' own accuracy) so the
files compress small.

    .venv/bin/python scripts/import_aist.py [--source ../shared/media/dev-only-2/keypoints]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.errors import KeypointsError  # noqa: E402
from engine.openpose import list_frames, read_people  # noqa: E402
from engine.sequence import PoseSequence  # noqa: E402

log = logging.getLogger("import_aist")

FPS = 30.0
FRAME_SIZE = (1920, 1080)  # AIST Dance DB cameras; the keypoints are in these pixel coordinates
BACKEND = "aist++-keypoints2d"
# folder -> short name: genre (break, jazz), style (basic, free choreography), dancer
SHORT = {
    "aist_gBR_sBM_c01_d04_mBR2_ch08_30fps": "break_basic_d04",
    "aist_gBR_sBM_c01_d06_mBR2_ch06_30fps": "break_basic_d06",
    "aist_gJS_sBM_c01_d03_mJS2_ch07_30fps": "jazz_basic_d03",
    "aist_gJS_sFM_c01_d02_mJS4_ch09_30fps": "jazz_free_d02",
}


def convert(folder: Path) -> PoseSequence:
    """One AIST++ OpenPose folder -> a PoseSequence at 30 fps in the 1920x1080 frame.

    Every frame holds the one annotated dancer or nobody, so the frames are taken as they are
    (`engine.openpose.read_directory`'s tracker would drop the floor moves of d04, where the body's
    height halves within a few frames).
    """
    frames = list_frames(folder)
    kp = np.zeros((len(frames), 25, 3), dtype=np.float32)
    present = np.zeros(len(frames), dtype=bool)
    for i, path in enumerate(frames):
        people = read_people(path)
        if len(people) > 1:
            raise KeypointsError(f"{path.name}: {len(people)} people; AIST++ annotates one dancer")
        if people:
            kp[i], present[i] = people[0], True
    kp[..., :2] = np.round(kp[..., :2], 1)
    kp[..., 2] = np.round(kp[..., 2], 3)
    times = np.arange(len(frames)) / FPS
    return PoseSequence(times, kp, present, FRAME_SIZE, BACKEND, len(frames) / FPS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "media" / "dev-only-2" / "keypoints")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "keypoints")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    missing = [name for name in SHORT if not (args.source / name).is_dir()]
    if missing:
        log.error("not found under %s: %s", args.source, ", ".join(missing))
        return 1
    for name, short in SHORT.items():
        seq = convert(args.source / name)
        out = args.out / f"aist_{short}.npz"
        seq.save(out)
        log.info("%s: %d frames, %d with the dancer -> %s (%d bytes)", name, len(seq), seq.frames_with_dancer,
                 out.relative_to(ROOT) if out.is_relative_to(ROOT) else out, out.stat().st_size)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
