"""Poses of benchmark videos, extracted once and kept by the video's name.

`<folder>/<stem>.npz` is the video's pose sequence in the repo's keypoint format (`PoseSequence.save`, as
`tests/data/keypoints/*.npz`), `<stem>.audio.npy` its music envelope when it has sound (`engine.pose_cache`),
and `<stem>.source.json` what made it: the video's sha256, the pose backend and the analysis rate. A file
whose video or settings changed is extracted again. Extraction goes through the engine's own front door
(`engine.api.save_reference`: decode, MediaPipe pose on the CPU, the main dancer, the music envelope).

    .venv/bin/python -m bench.pose_store --cache /work/notes/cache VIDEO...   # fill the cache
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.pose_cache import file_digest

log = logging.getLogger(__name__)

ANALYSIS_FPS = 30.0  # every frame of a 30 fps clip, as tests/data/keypoints (60 fps clips: every other one)
BACKEND = "mediapipe"


@dataclass(frozen=True)
class PoseStore:
    """A folder of pose files named by the stem of the video they came from."""

    folder: Path

    def path(self, video: Path) -> Path:
        return Path(self.folder) / f"{Path(video).stem}.npz"

    def poses(self, video: Path) -> Path:
        """The pose file of `video`, extracting it first when it is missing or stale."""
        video = Path(video)
        out = self.path(video)
        source = out.with_name(out.stem + ".source.json")
        wanted = {"video": video.name, "sha256": file_digest(video), "backend": BACKEND, "analysis_fps": ANALYSIS_FPS}
        if out.is_file() and source.is_file():
            try:
                if json.loads(source.read_text()) == wanted:
                    return out
            except ValueError:
                pass
            log.warning("%s was made from another video or with other settings: extracting again", out.name)
        from engine.api import EngineSettings, save_reference

        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            settings = EngineSettings(
                cache_dir=Path(scratch), analysis_fps=ANALYSIS_FPS, pose_backend=BACKEND, max_duration_s=600.0
            )
            seq = save_reference(video, settings, out)
        source.write_text(json.dumps(wanted, indent=1))
        log.info("%s: %d frames, %d with the dancer -> %s", video.name, len(seq), seq.frames_with_dancer, out)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="extract benchmark videos' poses into a pose store")
    parser.add_argument("--cache", type=Path, required=True, help="folder of <stem>.npz pose files")
    parser.add_argument("videos", type=Path, nargs="+")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = PoseStore(args.cache)
    for video in args.videos:
        store.poses(video)
    return 0


if __name__ == "__main__":
    from engine.native_stderr import silence_native_stderr

    silence_native_stderr()  # MediaPipe's C++ warnings; at process start, never inside main (tests call it)
    sys.exit(main())
