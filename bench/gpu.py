"""GPU benchmark of the torch pose backend and of the two GPU placements (issue 12), one command; on a
machine without CUDA it measures the CPU with smaller sizes, so the same figures exist for both.

    .venv/bin/python bench/gpu.py                       # everything, about 3-5 minutes on a 16-core GPU box
    .venv/bin/python bench/gpu.py --skip-load --json out.json

Prints, from one run:
1. frames/s of the torch pose backend by batch size: the two networks alone (float16 on CUDA), replayed as
   CUDA graphs and run eagerly; and whole tracking steps (upload, detection, crops, landmarks, heatmap
   refinement, projection) on real frames of the cc-by squat clip, one frame per stream;
2. one 30 s 1280x720 clip end to end (decode, pose, align, score) in a fresh process, against an
   already-analysed reference, with the process's peak resident memory, and where the pose time went (a
   second analysis of the clip: decode wait, detector, landmarks, host work); the same with the GPU hidden;
3. the load test (bench/load.py: the squat clips through a pool of one worker per core, one thread each)
   with the GPU hidden (CUDA_VISIBLE_DEVICES=: MediaPipe on the CPU), with one pose service per GPU
   batching every worker's frames (gpu_placement "service"), and with each worker running the networks on
   the GPU itself ("workers"); each against the hidden figure, and which placement wins.
The figures are also written (after each part) to --json.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SQUAT = ROOT / "tests" / "data" / "squat_reference.mp4"
HIDDEN = {"CUDA_VISIBLE_DEVICES": ""}


def measure_networks(device: str, sizes: list[int], seconds: float, graphs: bool) -> list[dict]:
    """frames/s of the detector + landmark model (one of each per frame) on random input, by batch size."""
    import torch

    from engine.blazepose import BlazePose

    model = BlazePose(device, batch=max(sizes), graphs=graphs)
    model.warm_up()
    out = []
    for size in sizes:
        crops = torch.rand(size, 3, 256, 256, device=model.device)
        letterboxed = torch.rand(size, 3, 224, 224, device=model.device)

        def run(crops: torch.Tensor = crops, letterboxed: torch.Tensor = letterboxed) -> None:
            model._run(model.detector, letterboxed)
            model._run(model.landmarker, crops)

        out.append({"batch": size, "frames_per_s": round(_rate(run, size, seconds, device), 1)})
    for row in out:
        row["graphs"] = model.graph_count()
    return out


def measure_steps(device: str, sizes: list[int], seconds: float) -> list[dict]:
    """frames/s of whole tracking steps on real frames (640 px, as analysed), by number of streams."""
    from engine.api import EngineSettings
    from engine.blazepose import BlazePose, Stream
    from engine.decode import iter_frames, probe

    frames = [image for _, image in iter_frames(probe(SQUAT, EngineSettings().limits), fps=6.0, max_side=640)]
    model = BlazePose(device, batch=max(sizes))
    model.warm_up()
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
    from engine.api import EngineSettings, analyse, compare, pose_backend, warm_up
    from engine.cli import default_pose_device
    from engine.decode import probe
    from engine.pose import limit_torch_threads

    settings = EngineSettings(cache_dir=cache, pose_threads=threads, pose_device=default_pose_device())
    limit_torch_threads(settings.pose_device)  # as the command line does
    warm_up(settings)
    analyse(reference, settings)
    warm_mb = _rss_mb()
    t0 = time.perf_counter()
    result = compare(reference, attempt, settings)
    wall = time.perf_counter() - t0
    seconds = {k: round(v, 3) for k, v in result.seconds.items()}
    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux
    # Where the pose time goes: the same clip analysed again, its parts timed.
    parts: dict[str, float] = {}
    t0 = time.perf_counter()
    pose_backend(settings).find_people(probe(attempt, settings.limits), settings.analysis_fps, None, parts)
    parts["wall"] = time.perf_counter() - t0
    print(json.dumps({"backend": result.backend, "device": settings.pose_device, "wall_s": round(wall, 3),
                      "seconds": seconds, "score": result.score, "peak_mb": peak_mb, "warm_mb": warm_mb,
                      "pose_parts": {k: round(v, 3) for k, v in parts.items()}}))  # fmt: skip


def _rss_mb() -> int:
    """This process's resident memory now, MB."""
    fields = Path("/proc/self/statm").read_text().split()
    return round(int(fields[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)


def load_test(workers: int, jobs: int, env: dict[str, str], rounds: int, placement: str = "service") -> dict:
    """bench/load.py in a subprocess (its own pools and workers), the figures it prints."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "load.json"
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "load.py"), "--workers", str(workers), "--jobs", str(jobs),
             "--threads", "1", "--rounds", str(rounds), "--gpu-placement", placement, "--json", str(out)],
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
        "placement": runs[-1]["placement"],
        "cores_obtained": runs[-1]["worker_cores_obtained"],
        "service": runs[-1]["service"],
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
    parser.add_argument("--json", type=Path, help="also write the figures here (after each part)")
    args = parser.parse_args()

    from bench.pipeline import make_clip
    from engine.cli import default_pose_device
    from engine.pool.placement import count_cpus

    device = default_pose_device()
    gpu = device.startswith("cuda")
    cores = count_cpus()
    seconds = args.seconds if args.seconds is not None else (1.0 if gpu else 2.0)
    sizes = [1, 4, 16, 64, 256] if gpu else [1, 4, 16]
    report: dict = {"machine": describe_machine(device), "device": device}
    print(f"python bench/gpu.py  ({report['machine']})", flush=True)
    t0 = time.perf_counter()

    def save() -> None:
        report["total_s"] = round(time.perf_counter() - t0, 1)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))

    def part(name: str, measure: Callable[[], Any]) -> Any:
        """One measurement; a failure is printed and recorded, and the run goes on to the next."""
        try:
            report[name] = measure()
        except (Exception, SystemExit) as e:  # SystemExit: a failed child
            report[name] = {"error": repr(e)}
            print(f"   {name} FAILED: {e!r}", flush=True)
        save()
        return report[name]

    print("1. torch pose backend, frames/s by batch size (" + ("float16, " if gpu else "float32, ") + device + ")")
    if gpu:
        part("networks", lambda: measure_networks(device, sizes, seconds, graphs=True))
        graphs = report["networks"][0].get("graphs", 0) if isinstance(report["networks"], list) else 0
        print(f"   networks only, {graphs} CUDA graphs (detector + landmark): " + _row(report["networks"]), flush=True)
        part("networks_eager", lambda: measure_networks(device, sizes, seconds, graphs=False))
        print("   networks only, eager:                                   " + _row(report["networks_eager"]))
    else:
        part("networks", lambda: measure_networks(device, sizes, seconds, graphs=False))
        print("   networks only (detector + landmark model): " + _row(report["networks"]), flush=True)
    part("steps", lambda: measure_steps(device, sizes, seconds))
    print("   tracking steps on real 640 px frames:                   " + _row(report["steps"]), flush=True)

    clip = make_clip(ROOT / "data" / "bench" / "squat_30s_720p.mp4", 1280, 720, 30.0)
    print(f"2. one 30 s 1280x720 clip end to end, {cores} threads (target <= 1.0 s, peak <= 2000 MB):")
    part("clip", lambda: one_clip(SQUAT, clip, cores, {}))
    print("   " + _clip_line(report["clip"]), flush=True)
    if gpu:
        part("clip_gpu_hidden", lambda: one_clip(SQUAT, clip, cores, HIDDEN))
        print("   GPU hidden: " + _clip_line(report["clip_gpu_hidden"]), flush=True)

    if not args.skip_load:
        jobs = args.jobs or (64 if gpu else 12)
        print(f"3. load test, {jobs} jobs of the squat clips, {cores} workers x 1 thread:")
        if not gpu:
            part("load", lambda: load_test(cores, jobs, {}, args.rounds))
            print("   this machine: " + _load_line(report["load"]), flush=True)
        else:
            hidden = part("load_gpu_hidden", lambda: load_test(cores, jobs, HIDDEN, args.rounds))
            print("   GPU hidden (MediaPipe on the CPU):   " + _load_line(hidden), flush=True)
            for placement, label in (("service", "pose service per GPU:"), ("workers", "each worker on the GPU:")):
                figures = part(f"load_{placement}", lambda p=placement: load_test(cores, jobs, {}, args.rounds, p))
                print(f"   {label:<37}" + _load_line(figures, hidden), flush=True)
            report["load_winner"] = _winner(report)
            print("   " + report["load_winner"]["line"])
    save()
    print(f"total {report['total_s']} s")
    return 0


def _winner(report: dict) -> dict:
    """The faster GPU placement and its ratio to the GPU-hidden figure (target >= 2; never below 1)."""
    hidden = report["load_gpu_hidden"].get("jobs_per_min", 0.0)
    rates = {p: report[f"load_{p}"].get("jobs_per_min", 0.0) for p in ("service", "workers")}
    best = max(rates, key=lambda p: rates[p])
    ratios = {p: round(r / hidden, 2) if hidden else 0.0 for p, r in rates.items()}
    line = (
        f"winner: {best} ({rates[best]:.1f} jobs/min, {ratios[best]:.2f}x hidden; target >= 2); "
        f"service {ratios['service']:.2f}x, workers {ratios['workers']:.2f}x"
    )
    return {"placement": best, "ratios": ratios, "line": line}


def _row(rows: list[dict] | dict) -> str:
    if isinstance(rows, dict):
        return f"failed: {rows.get('error')}"
    return "  ".join(f"{r['batch']}: {r['frames_per_s']:.0f}" for r in rows)


def _clip_line(d: dict) -> str:
    if "error" in d:
        return f"failed: {d['error']}"
    stages = "  ".join(f"{k} {v:.2f}" for k, v in d["seconds"].items() if k != "total")
    parts = "  ".join(f"{k} {v:.2f}" for k, v in d.get("pose_parts", {}).items())
    return (
        f"{d['wall_s']:.2f} s ({d['backend']} on {d['device']}; {stages}), peak memory {d['peak_mb']} MB "
        f"(warm {d.get('warm_mb', '?')} MB), score {d['score']:.1f}\n      the clip again, pose parts: {parts}"
    )


def _load_line(d: dict, hidden: dict | None = None) -> str:
    if "error" in d:
        return f"failed: {d['error']}"
    failed = f", failed {d['failed']}" if d["failed"] else ""
    ratio = ""
    if hidden and hidden.get("jobs_per_min"):
        ratio = f", {d['jobs_per_min'] / hidden['jobs_per_min']:.2f}x hidden"
    service = d.get("service") or {}
    busy = (
        f"; service: {service.get('frames_per_batch', 0):.1f} frames/batch, "
        f"busy {service.get('busy_fraction', 0):.0%}, {service.get('graphs', 0):.0f} CUDA graphs"
        if service.get("batches")
        else ""
    )
    return (
        f"{d['jobs_per_min']:.1f} jobs/min{ratio} ({d['completed']}/{d['jobs']} done{failed}; p50 {d['p50_s']} s, "
        f"p95 {d['p95_s']} s, one job {d['mean_job_run_s']} s; placement {d.get('placement')}, "
        f"worker cores {d.get('cores_obtained')}{busy})"
    )


if __name__ == "__main__":
    sys.exit(main())
