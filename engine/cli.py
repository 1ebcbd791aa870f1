"""The engine's command-line commands: `compare`, `extract` and `bench` (registered by `bot.cli`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TextIO

from engine.errors import EngineError
from engine.progress import Stage

if TYPE_CHECKING:
    from engine.api import EngineSettings

log = logging.getLogger(__name__)

EXIT_FAILURE = 2


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); silent when stderr is not a terminal."""

    STAGES: ClassVar[dict[str, tuple[float, float]]] = {
        Stage.REFERENCE: (0.0, 0.35),
        Stage.POSE: (0.35, 0.9),
        Stage.ALIGN: (0.9, 0.95),
        Stage.RENDER: (0.95, 1.0),
    }

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.last = -1

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        lo, hi = self.STAGES.get(stage, (0.0, 1.0))
        total = lo + (hi - lo) * max(0.0, min(1.0, fraction))
        filled = int(total * 30)
        if filled == self.last and fraction < 1.0:
            return
        self.last = filled
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {total:4.0%} {stage:<10}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.last >= 0:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def positive(kind: type[float] | type[int]):
    """An argparse type: a number above zero (`--analysis-fps 0` would analyse nothing)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above zero, not {text}")
        return value

    parse.__name__ = kind.__name__  # what argparse names in "invalid ... value"
    return parse


def torch_device(text: str) -> str:
    """An argparse type: `cpu`, or a CUDA device this install of PyTorch can use."""
    name = text.strip().lower()
    if name == "cpu":
        return name
    if not (name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        raise argparse.ArgumentTypeError(f"{text}: this PyTorch ({build}) sees no CUDA GPU; use --device cpu")
    index = int(name[5:]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: there are only {torch.cuda.device_count()} CUDA device(s)")
    return name


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Options every engine command shares."""
    parser.add_argument(
        "--analysis-fps", type=positive(float), default=6.0, help="frames analysed per second (default 6)"
    )
    parser.add_argument(
        "--threads", type=positive(int), default=2, help="segments of a clip analysed in parallel (default 2)"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("data/cache"), help="reference pose cache")
    parser.add_argument("--max-duration", type=positive(float), default=180.0, help="longest accepted video, seconds")
    parser.add_argument("--max-mb", type=positive(float), default=200.0, help="largest accepted video file, MiB")
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device (cpu, cuda, cuda:1)")
    parser.add_argument(
        "--pose-backend",
        choices=("auto", "mediapipe", "torch"),
        default="auto",
        help="pose estimator: MediaPipe's graph, or the same networks in PyTorch (every person, batched; "
        "float16 on a GPU). Default auto: torch when a GPU is present, else mediapipe (faster on a CPU)",
    )
    parser.add_argument(
        "--pose-device",
        type=torch_device,
        default=None,
        help="torch device of the torch pose backend (default: cuda if present)",
    )


def settings_from(args: argparse.Namespace) -> EngineSettings:
    from engine.api import EngineSettings

    return EngineSettings(
        cache_dir=args.cache_dir,
        analysis_fps=args.analysis_fps,
        max_duration_s=args.max_duration,
        max_bytes=int(args.max_mb * 2**20),
        device=args.device,
        pose_threads=max(1, args.threads),
        pose_backend=args.pose_backend,
        pose_device=args.pose_device or default_pose_device(),
    )


def default_pose_device() -> str:
    """The pose device to use by default: "cuda" when torch sees a GPU, else "cpu"."""
    from engine.pool.placement import count_gpus

    return "cuda" if count_gpus() > 0 else "cpu"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `compare`, `extract` and `bench` to the `dancescore` command."""
    p = subparsers.add_parser("compare", help="score an attempt against a reference dance")
    p.add_argument("reference", type=Path, help="reference video, or a directory of OpenPose *_keypoints.json")
    p.add_argument("attempt", type=Path, help="attempt video, or a directory of OpenPose *_keypoints.json")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument(
        "--ref-fps", type=positive(float), default=30.0, help="frame rate of an OpenPose reference directory"
    )
    p.add_argument(
        "--attempt-fps", type=positive(float), default=30.0, help="frame rate of an OpenPose attempt directory"
    )
    p.add_argument("--clip", type=Path, help="write the annotated side-by-side clip (MP4) here")
    p.add_argument("--card", type=Path, help="write the score card (PNG) here")
    p.add_argument("--budget-mb", type=positive(float), default=8.0, help="size budget of the clip in MiB (default 8)")
    p.add_argument("--no-mirror", action="store_true", help="do not accept a mirrored performance")
    add_engine_options(p)
    p.set_defaults(func=run_compare)

    p = subparsers.add_parser("extract", help="write OpenPose BODY_25 JSON (one file per frame) from a video")
    p.add_argument("video", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="directory to write into")
    p.add_argument(
        "--fps", type=positive(float), default=None, help="analyse this many frames per second (default: all)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    add_engine_options(p)
    p.set_defaults(func=run_extract)


def fail(error: BaseException, as_json: bool) -> int:
    """Report a failure: one line on stderr, and the JSON error object on stdout with --json."""
    if isinstance(error, EngineError):
        code, message = error.code, str(error)
    elif isinstance(error, KeyboardInterrupt):
        code, message = "interrupted", "interrupted"
    else:
        ref = uuid.uuid4().hex[:8]
        log.exception("internal error %s", ref)
        code, message = "internal_error", f"internal error (reference {ref}); please report it"
    if as_json:
        print(json.dumps({"error": {"code": code, "message": message}}))
    print(f"dancescore: error: {message}", file=sys.stderr)
    return EXIT_FAILURE


def run_compare(args: argparse.Namespace) -> int:
    from engine.api import CompareOptions, compare

    bar = ProgressBar()
    try:
        options = CompareOptions(
            clip_path=str(args.clip) if args.clip else None,
            card_path=str(args.card) if args.card else None,
            clip_budget_bytes=int(args.budget_mb * 2**20),
            reference_fps=args.ref_fps,
            attempt_fps=args.attempt_fps,
            allow_mirror=not args.no_mirror,
        )
        result = compare(args.reference, args.attempt, settings_from(args), options, bar)
    except (EngineError, Exception, KeyboardInterrupt) as exc:
        bar.close()
        return fail(exc, args.json)
    bar.close()
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(format_result(result.to_dict()))
    return 0


def format_result(d: dict) -> str:
    """The human-readable report of a comparison."""
    lines = [
        f"Score {d['score']:.1f} / 10   (form {d['form']:.0f}, timing {d['timing']:.0f})",
        "  " + "  ".join(f"{k} {v:.0f}" for k, v in d["parts"].items()),
        f"  starts {d['offset_s']:+.2f} s from the reference ({d['offset_source']}), tempo {d['tempo']:.2f}x"
        + (", mirrored" if d["mirrored"] else ""),
    ]
    lines += [f"  - {s}" for s in d["feedback"]]
    fr = d["frames"]
    lines.append(
        f"  frames with a dancer: reference {fr['reference']['with_dancer']}/{fr['reference']['analysed']}, "
        f"attempt {fr['attempt']['with_dancer']}/{fr['attempt']['analysed']}; {d['backend']}; "
        f"{d['seconds']['total']:.1f} s"
    )
    for key in ("clip_path", "card_path"):
        if d.get(key):
            lines.append(f"  {key.split('_')[0]}: {d[key]}")
    return "\n".join(lines)


def run_extract(args: argparse.Namespace) -> int:
    from engine import openpose
    from engine.api import analyse_people
    from engine.pose import main_dancer

    bar = ProgressBar()
    try:
        settings = dataclasses.replace(settings_from(args), analysis_fps=args.fps or 0.0)
        t0 = time.perf_counter()
        people = analyse_people(args.video, settings, progress=bar)
        seq = main_dancer(people)
        written = openpose.write_directory(seq, args.output, name=args.video.stem, people=people.people)
    except (EngineError, OSError, Exception, KeyboardInterrupt) as exc:
        bar.close()
        return fail(exc, args.json)
    bar.close()
    summary = {
        "frames": len(written),
        "with_dancer": seq.frames_with_dancer,
        "most_people": max((len(frame) for frame in people.people), default=0),
        "output": str(args.output),
        "backend": seq.backend,
        "seconds": round(time.perf_counter() - t0, 3),
        "notes": seq.notes,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"wrote {len(written)} OpenPose files to {args.output} ({seq.frames_with_dancer} with the dancer, "
            f"at most {summary['most_people']} people in a frame)"
        )
        for note in seq.notes:
            print(f"  - {note}")
    return 0
