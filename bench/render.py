"""Benchmark: how long rendering the annotated clip takes, against decoding the attempt alone.

Target (issue 4): rendering the clip of a 30 s attempt takes <= 0.25 x the clip's duration on 2 cores.
The floor is measured in the same run: decoding every frame of the attempt and doing nothing else.

    .venv/bin/python bench/render.py                       # a generated 30 s 720x1280 portrait clip
    .venv/bin/python bench/render.py --attempt A.mp4 --reference R.mp4 [--analyse]

Without --analyse the skeletons are synthetic (drawing cost does not depend on where the joints are);
with it, both videos go through the pose stage first (cached in --cache, not timed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "render"))

from render_media import make_video, moving_box, pose_sequence, score_result  # noqa: E402

from engine.decode import decode_floor, probe  # noqa: E402
from engine.render import render_clip  # noqa: E402


def swaying(frame_size: tuple[int, int], duration: float) -> object:
    """A pose sequence at 10 fps whose joints sway, so every frame's skeleton differs."""
    seq = pose_sequence(frame_size, duration)
    sway = 0.05 * frame_size[0] * np.sin(2 * np.pi * seq.times / 2.0)
    seq.keypoints[:, :, 0] += sway[:, None].astype(np.float32)
    return seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempt", type=Path, help="attempt video (default: a generated 30 s clip)")
    parser.add_argument("--reference", type=Path, help="reference video (default: the attempt)")
    parser.add_argument("--analyse", action="store_true", help="real poses from the pose stage")
    parser.add_argument("--cache", type=Path, default=Path("data/cache"))
    parser.add_argument("--budget-mib", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs (the best is reported)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    attempt_video = args.attempt
    if attempt_video is None:
        attempt_video = make_video(work / "attempt.mp4", (720, 1280), 30.0, audio="aac",
                                   painter=moving_box((70, 80, 110), (220, 180, 60)))  # fmt: skip
    reference_video = args.reference or attempt_video
    info, ref_info = probe(attempt_video), probe(reference_video)
    if args.analyse:
        from engine.api import EngineSettings, analyse

        settings = EngineSettings(cache_dir=args.cache)
        attempt, reference = analyse(attempt_video, settings), analyse(reference_video, settings)
    else:
        attempt = swaying((info.width, info.height), info.duration)
        reference = swaying((ref_info.width, ref_info.height), ref_info.duration)
    result = score_result(min(info.duration, ref_info.duration), offset_s=0.3, limb_error=np.linspace(0, 1, 13))

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    frames = decode_floor(info)
    floor = time.perf_counter() - t0

    runs, cpu = [], []
    for k in range(args.repeat):
        out = work / f"clip{k}.mp4"
        t0, c0 = time.perf_counter(), time.process_time()
        render_clip(result, reference, attempt, reference_video, attempt_video, out, int(args.budget_mib * 2**20))
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    best = min(runs)
    with av.open(str(out)) as clip:
        v = clip.streams.video[0]
        sound = "with" if clip.streams.audio else "no"
        shape = f"{v.width}x{v.height} @ {float(v.average_rate):.0f} fps, {sound} audio"
    duration = info.duration
    print(f"attempt: {attempt_video.name}, {info.width}x{info.height}, {duration:.1f} s, {frames} frames")
    print(f"reference: {reference_video.name}, {ref_info.width}x{ref_info.height}")
    print(f"clip: {shape}, {out.stat().st_size / 2**20:.2f} MiB of {args.budget_mib:g} MiB")
    print(f"floor (decode-only of the attempt): {floor:.2f} s = {floor / duration:.3f} x duration")
    print(f"render_clip: {best:.2f} s = {best / duration:.3f} x duration (target <= 0.25); runs {runs}")
    print(f"render CPU time (all threads): {min(cpu):.2f} s; load average before: {load:.1f} on {os.cpu_count()} cores")
    print(f"render / floor: {best / floor:.1f}")
    print("reproduce: .venv/bin/python bench/render.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
