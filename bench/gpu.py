"""GPU benchmark of the torch pose backend (issue 12), one command; on a machine without CUDA it measures the
CPU with smaller sizes, so the same figures exist for both.

    .venv/bin/python bench/gpu.py                       # everything, about 3-5 minutes
    .venv/bin/python bench/gpu.py --skip-load --json out.json

Prints, from one run:
1. frames/s of the torch pose backend by batch size: the two networks alone (float16 on CUDA), and whole
   tracking steps (detection, crops, landmarks, heatmap refinement, projection) on real frames of the cc-by
   squat clip, one frame per stream, as many streams as the batch size;
2. one 30 s 1280x720 clip end to end (decode, pose, align, score) in a fresh process, against an
   already-analysed reference, with the process's peak resident memory; the same with the GPU hidden;
3. the load test (bench/load.py: the squat clips through a pool of one worker per core) with the GPU
   visible and hidden (CUDA_VISIBLE_DEVICES=), and the ratio of the two.

Needs only the engine's own packages (torch, numpy, av, mediapipe, opencv, Pillow): not the bots'.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SQUAT = ROOT / "tests" / "data" / "squat_reference.mp4"
HIDDEN = {"CUDA_VISIBLE_DEVICES": ""}


def measure_networks(device: str, sizes: list[int], seconds: float) -> list[dict]:
    """frames/s of the detector + landmark model (one of each per frame) on random input, by batch size."""
    import torch

    from engine.blazepose import BlazePose

    model = BlazePose(device)
    out = []
    for size in sizes:
        crops = torch.rand(size, 3, 256, 256, device=model.device)
        letterboxed = torch.rand(size, 3, 224, 224, device=model.device)

        def run(crops: torch.Tensor = crops, letterboxed: torch.Tensor = letterboxed) -> None:
            model._run(model.detector, letterboxed)
            model._run(model.landmarker, crops)

        out.append({"batch": size, "frames_per_s": round(_rate(run, size, seconds, device), 1)})
    return out


def measure_steps(device: str, sizes: list[int], seconds: float) -> list[dict]:
    """frames/s of whole tracking steps on real frames (640 px, as analysed), by number of streams."""
    from engine.api import EngineSettings
    from engine.blazepose import BlazePose, Stream
    from engine.decode import iter_frames, probe

    frames = [image for _, image in iter_frames(probe(SQUAT, EngineSettings().limits), fps=6.0, max_side=640)]
    model = BlazePose(device)
    out = []
    for size in sizes:
        streams = [Stream() for _ in range(size)]
        # Stream s starts 7 frames after stream s - 1: different frames, as in a real clip.
        batches = itertools.cycle(
            [[frames[(k + 7 * s) % len(frames)] for s in range(size)] for k in range(len(frames))]
        )

        def run(batches: Iterator[list] = batches, streams: list[Stream] = streams) -> None:
            model.step(next(batches), streams)

        out.append({"batch": size, "frames_per_s": round(_rate(run, size, seconds, device), 1)})
    return out


def _rate(run, frames_per_call: int, seconds: float, device: str) -> float:
    import torch

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    run()  # warm-up: cuDNN picks its kernels, caches fill
    sync()
    calls, t0 = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and calls >= 2:
            return calls * frames_per_call / elapsed


def one_clip(reference: Path, attempt: Path, threads: int, env: dict[str, str]) -> dict:
    """Compare `attempt` with `reference` in a fresh process (reference analysed and cached first, models
    loaded before the clock starts); its stage seconds and peak resident memory."""
    with tempfile.TemporaryDirectory() as cache:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(reference), str(attempt), cache, str(threads)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env},
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"the one-clip child failed ({proc.returncode})")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def child(reference: Path, attempt: Path, cache: Path, threads: int) -> None:
    from engine.api import EngineSettings, analyse, compare, warm_up
    from engine.cli import default_pose_device

    settings = EngineSettings(cache_dir=cache, pose_threads=threads, pose_device=default_pose_device())
    analyse(reference, settings)
    warm_up(settings)
    t0 = time.perf_counter()
    result = compare(reference, attempt, settings)
    wall = time.perf_counter() - t0
    seconds = {k: round(v, 3) for k, v in result.seconds.items()}
    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux
    print(json.dumps({"backend": result.backend, "device": settings.pose_device, "wall_s": round(wall, 3),
                      "seconds": seconds, "score": result.score, "peak_mb": peak_mb}))  # fmt: skip


def load_test(workers: int, jobs: int, env: dict[str, str], rounds: int) -> dict:
    """bench/load.py in a subprocess (its own pools and workers), the figures it prints."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "load.json"
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "load.py"), "--workers", str(workers), "--jobs", str(jobs),
             "--threads", "1", "--rounds", str(rounds), "--json", str(out)],
            capture_output=True, text=True, check=False, env={**os.environ, **env},
        )  # fmt: skip
        if proc.returncode != 0 or not out.exists():
            sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
            raise SystemExit(f"the load test failed ({proc.returncode})")
        runs = json.loads(out.read_text())["runs"]
    wall = sum(r["wall_s"] for r in runs)
    done = sum(r["completed"] for r in runs)
    return {
        "workers": workers,
        "jobs_per_min": round(60.0 * done / wall, 1) if wall else 0.0,
        "completed": done,
        "jobs": sum(r["jobs"] for r in runs),
        "failed": [r["failed"] for r in runs if r["failed"]],
        "p50_s": runs[-1]["latency_p50_s"],
        "p95_s": runs[-1]["latency_p95_s"],
        "mean_job_run_s": runs[-1]["mean_job_run_s"],
    }


def describe_machine(device: str) -> str:
    import torch

    from engine.pool.placement import count_cpus

    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        card = f"{torch.cuda.get_device_name(0)} ({props.total_memory / 2**30:.0f} GiB)"
    else:
        card = "no GPU"
    return f"{card}, {count_cpus()} cores, torch {torch.__version__}, python {sys.version.split()[0]}"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, ref, att, cache, threads = sys.argv
        child(Path(ref), Path(att), Path(cache), int(threads))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=None, help="measuring time per batch size")
    parser.add_argument("--jobs", type=int, default=None, help="load-test jobs per run (default 64; 12 on a CPU)")
    parser.add_argument("--rounds", type=int, default=1, help="load-test rounds per setting")
    parser.add_argument("--skip-load", action="store_true", help="leave out the load test")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from bench.pipeline import make_clip
    from engine.cli import default_pose_device
    from engine.pool.placement import count_cpus

    device = default_pose_device()
    gpu = device.startswith("cuda")
    cores = count_cpus()
    seconds = args.seconds if args.seconds is not None else (3.0 if gpu else 2.0)
    sizes = [1, 4, 16, 64, 256] if gpu else [1, 4, 16]
    report: dict = {"machine": describe_machine(device), "device": device}
    print(f"python bench/gpu.py  ({report['machine']})", flush=True)

    t0 = time.perf_counter()
    report["networks"] = measure_networks(device, sizes, seconds)
    print("1. torch pose backend, frames/s by batch size (" + ("float16, " if gpu else "float32, ") + device + ")")
    print("   networks only (detector + landmark model):  " + _row(report["networks"]), flush=True)
    report["steps"] = measure_steps(device, sizes, seconds)
    print("   tracking steps on real 640 px frames:        " + _row(report["steps"]), flush=True)

    clip = make_clip(ROOT / "data" / "bench" / "squat_30s_720p.mp4", 1280, 720, 30.0)
    report["clip"] = one_clip(SQUAT, clip, cores, {})
    print(f"2. one 30 s 1280x720 clip end to end, {cores} threads:")
    print("   " + _clip_line(report["clip"]), flush=True)
    if gpu:
        report["clip_gpu_hidden"] = one_clip(SQUAT, clip, cores, HIDDEN)
        print("   GPU hidden: " + _clip_line(report["clip_gpu_hidden"]), flush=True)

    if not args.skip_load:
        jobs = args.jobs or (64 if gpu else 12)
        report["load"] = load_test(cores, jobs, {}, args.rounds)
        print(f"3. load test, {jobs} jobs of the squat clips, {cores} workers x 1 thread:")
        print(f"   {'GPU visible' if gpu else 'this machine'}: " + _load_line(report["load"]), flush=True)
        if gpu:
            report["load_gpu_hidden"] = load_test(cores, jobs, HIDDEN, args.rounds)
            print("   GPU hidden:  " + _load_line(report["load_gpu_hidden"]))
            ratio = report["load"]["jobs_per_min"] / max(report["load_gpu_hidden"]["jobs_per_min"], 1e-9)
            report["load_ratio"] = round(ratio, 2)
            print(f"   visible / hidden: {ratio:.2f}x (target >= 2)")
    report["total_s"] = round(time.perf_counter() - t0, 1)
    print(f"total {report['total_s']} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _row(rows: list[dict]) -> str:
    return "  ".join(f"{r['batch']}: {r['frames_per_s']:.0f}" for r in rows)


def _clip_line(d: dict) -> str:
    stages = "  ".join(f"{k} {v:.2f}" for k, v in d["seconds"].items() if k != "total")
    return (
        f"{d['wall_s']:.2f} s ({d['backend']} on {d['device']}; {stages}), peak memory {d['peak_mb']} MB, "
        f"score {d['score']:.1f}"
    )


def _load_line(d: dict) -> str:
    failed = f", failed {d['failed']}" if d["failed"] else ""
    return (
        f"{d['jobs_per_min']:.1f} jobs/min ({d['completed']}/{d['jobs']} done{failed}; p50 {d['p50_s']} s, "
        f"p95 {d['p95_s']} s, one job {d['mean_job_run_s']} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
