"""Engine benchmark: one attempt against an already-analysed reference, on this machine's CPU.

Prints, from one run: the decode-only floor (every frame of the attempt decoded, nothing else), each
stage, the total, the real-time factor (total / clip duration), total / floor, and the peak memory of the
process that did the work. Targets (issue 3, 2 cores, no GPU): a 30 s 720p attempt in <= 0.25 x its
duration and <= 3 x the floor; peak memory <= 1.5 GB on a 60 s 1080p attempt.

    .venv/bin/python bench/pipeline.py                      # generated 30 s 720p and 60 s 1080p clips
    .venv/bin/python bench/pipeline.py --attempt A.mp4 --reference R.mp4

Without --attempt, the clips are built from the cc-by squat clip (looped, and scaled for 1080p) under
data/bench/ on first use.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQUAT = ROOT / "tests" / "data" / "squat_reference.mp4"


def make_clip(path: Path, width: int, height: int, seconds: float) -> Path:
    """Loop the squat clip to `seconds`, scaled to width x height, H.264 30 fps (a phone-like clip)."""
    import av

    if path.exists():
        return path
    from engine.atomic_file import atomic_path

    with atomic_path(path) as tmp:
        n_total = int(seconds * 30)
        k = 0
        with av.open(str(tmp), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "21"}
            while k < n_total:
                with av.open(str(SQUAT)) as src:
                    for frame in src.decode(video=0):
                        if k >= n_total:
                            break
                        img = frame.reformat(width=width, height=height, format="yuv420p")
                        img.pts, img.time_base = k, Fraction(1, 30)
                        for packet in stream.encode(img):
                            out.mux(packet)
                        k += 1
            for packet in stream.encode(None):
                out.mux(packet)
    return path


def child(reference: Path, attempt: Path, cache: Path, threads: int, fps: float) -> None:
    """Run in a fresh process: warm the reference cache, measure the floor, then time the comparison."""
    from engine.api import EngineSettings, analyse, compare, warm_up
    from engine.decode import decode_floor, probe

    settings = EngineSettings(cache_dir=cache, pose_threads=threads, analysis_fps=fps)
    analyse(reference, settings)  # the reference is analysed once and cached, as in the bot
    warm_up(settings)
    info = probe(attempt, settings.limits)
    t0 = time.perf_counter()
    frames = decode_floor(info)
    floor = time.perf_counter() - t0
    result = compare(reference, attempt, settings)
    print(
        json.dumps(
            {
                "clip": f"{attempt.name} {info.width}x{info.height} {info.duration:.1f} s ({frames} frames)",
                "duration": info.duration,
                "floor": floor,
                "seconds": result.seconds,
                "score": result.score,
            }
        )
    )


def run_one(reference: Path, attempt: Path, threads: int, fps: float) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(reference), str(attempt), cache, str(threads), str(fps)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"benchmark child failed ({proc.returncode})")
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        data["peak_mb"] = max(peak_kib, before) / 1024
        return data


def report(d: dict) -> None:
    s = d["seconds"]
    total = s["total"]
    rtf = total / d["duration"]
    ratio = total / d["floor"]
    stages = "  ".join(f"{k} {s[k]:.2f}" for k in ("decode", "pose", "align", "score") if k in s)
    print(f"{d['clip']}")
    print(f"  floor (decode only)  {d['floor']:.2f} s")
    print(f"  stages (s)           {stages}")
    print(f"  total                {total:.2f} s")
    print(f"  real-time factor     {rtf:.3f} x duration (target <= 0.25)")
    print(f"  total / floor        {ratio:.2f} (target <= 3)")
    print(f"  peak memory          {d['peak_mb']:.0f} MB")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, ref, att, cache, threads, fps = sys.argv
        child(Path(ref), Path(att), Path(cache), int(threads), float(fps))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=SQUAT)
    parser.add_argument("--attempt", type=Path, action="append", help="attempt clip(s); default: generated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fps", type=float, default=6.0, help="analysis frame rate")
    args = parser.parse_args()
    attempts = args.attempt or [
        make_clip(ROOT / "data" / "bench" / "squat_30s_720p.mp4", 1280, 720, 30.0),
        make_clip(ROOT / "data" / "bench" / "squat_60s_1080p.mp4", 1920, 1080, 60.0),
    ]
    print(f"python bench/pipeline.py  (reference {args.reference.name}, {args.threads} threads, {args.fps:g} fps)")
    for attempt in attempts:
        report(run_one(args.reference, attempt, args.threads, args.fps))


if __name__ == "__main__":
    main()
