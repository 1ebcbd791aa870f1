"""The engine's front door: analyse a video into poses, compare an attempt with a reference, run a job.

Everything here takes and returns small picklable objects carrying file paths, so the same calls work in
the CLI, in a worker process of the pool, or in a Ray actor. The engine never reads the environment: it is
given an `EngineSettings`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine import audio, feedback, openpose
from engine.align import Alignment, align
from engine.card import render_card
from engine.decode import VideoInfo, VideoLimits, probe
from engine.errors import InputError, NoDancerError, VideoError
from engine.features import LimbTrack, resample
from engine.pose import People, PoseBackend, check_dancer, create_backend, main_dancer
from engine.pose_cache import PoseCache, file_digest, load_poses, save_poses
from engine.pose_service import ServiceAddress
from engine.progress import Progress, Stage
from engine.render import render_clip
from engine.result import MomentTrack, ScoreResult
from engine.score import comparison_features, measure_deviations, run_scorer
from engine.sequence import PoseSequence
from engine.skeleton import LIMB_PART, PARTS
from models.scorer import DEFAULT_VERSION, DanceScorer, build_scorer

log = logging.getLogger(__name__)

MiB = 2**20
MIN_ATTEMPT_S = 1.0


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs. Built by the caller (CLI, bot config); the engine reads no environment.

    analysis_fps: frames per second analysed by the pose estimator (see docs/benchmarks.md for the
        measurements behind the default: scores of real pairs do not move between 6 and 15 fps).
    grid_rate: Hz of the time grid that alignment and scoring work on (poses are interpolated onto it); the
        scorer's parameters were calibrated at 10 Hz.
    pose_threads: time segments of one clip analysed in parallel (one per core is best when a single clip
        is analysed at a time; 1 when several worker processes share the cores).
    pose_backend: "mediapipe", "torch" or "auto" (torch when `pose_device` is a CUDA device, else mediapipe);
        see `engine.pose`.
    pose_device: torch device of the torch pose backend ("cpu", "cuda", "cuda:1").
    pose_streams: time segments of a clip the torch backend follows side by side, their frames batched
        through the networks together (None: `pose_threads`).
    pose_service: where the machine's pose service listens (`engine.pose_service.ServiceAddress`; set by
        the pool on GPU machines): the torch backend then sends it frames instead of running networks here.
    device: torch device of the scorer.
    """

    cache_dir: Path = Path("data/cache")
    analysis_fps: float = 6.0
    grid_rate: float = 10.0
    max_duration_s: float = 180.0
    max_bytes: int = 200 * MiB
    max_pixels: int = 4096 * 4096
    device: str = "cpu"
    pose_threads: int = 2
    pose_backend: str = "auto"
    pose_device: str = "cpu"
    pose_streams: int | None = None
    pose_service: ServiceAddress | None = None
    scorer_version: str = DEFAULT_VERSION

    @property
    def limits(self) -> VideoLimits:
        return VideoLimits(self.max_bytes, self.max_duration_s, self.max_pixels)


@dataclass(frozen=True)
class CompareOptions:
    """What a comparison should produce besides the score. Frame rates apply to OpenPose JSON directories."""

    clip_path: str | None = None
    card_path: str | None = None
    clip_budget_bytes: int = 8 * MiB
    reference_fps: float = 30.0
    attempt_fps: float = 30.0
    allow_mirror: bool = True


@dataclass(frozen=True)
class ScoreJob:
    """A unit of work for a worker: file paths and options only (picklable).

    reference: a video file, an OpenPose JSON directory, or a `.npz` pose file written by `analyse`.
    reference_video: the original video of a `.npz` reference, for the annotated clip's left panel.
    """

    reference: str
    attempt: str
    options: CompareOptions = field(default_factory=CompareOptions)
    reference_video: str | None = None


@dataclass(frozen=True)
class ReferenceJob:
    """A unit of work for a worker, like `ScoreJob`: analyse a reference video once and store its poses (and
    music envelope) as `pose_path` (.npz), which the caller keeps. Decoding an uploaded reference is as risky
    as decoding an attempt, so it runs in the pool's workers too."""

    video: str
    pose_path: str


@dataclass
class ReferenceResult:
    """What a `ReferenceJob` returns: where the poses are, the clip's length, wall time per stage."""

    pose_path: str
    duration_s: float
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Source:
    sequence: PoseSequence
    video: Path | None
    envelope: np.ndarray | None
    seconds: dict[str, float]


@lru_cache(maxsize=4)
def _cached_backend(
    name: str, threads: int, device: str, streams: int | None, service: ServiceAddress | None
) -> PoseBackend:
    return create_backend(name, threads=threads, device=device, streams=streams, service=service)


def pose_backend(settings: EngineSettings) -> PoseBackend:
    """The pose backend the settings ask for (one per process and configuration)."""
    return _cached_backend(
        settings.pose_backend, settings.pose_threads, settings.pose_device, settings.pose_streams,
        settings.pose_service,
    )  # fmt: skip


@lru_cache(maxsize=4)
def _scorer(version: str, device: str) -> DanceScorer:
    return build_scorer(version, device, LIMB_PART, len(PARTS))


def warm_up(settings: EngineSettings) -> None:
    """Load the models once (worker start-up) so the first job does not pay for it."""
    _scorer(settings.scorer_version, settings.device)
    pose_backend(settings).warm_up()


def _load_source(
    source: Path | PoseSequence,
    settings: EngineSettings,
    *,
    fps: float,
    cache: bool,
    progress: Progress | None,
) -> _Source:
    seconds = {"decode": 0.0, "pose": 0.0}
    if isinstance(source, PoseSequence):
        return _Source(source, None, None, seconds)
    path = Path(source)
    if path.is_dir():
        return _Source(openpose.read_directory(path, fps), None, None, seconds)
    if path.suffix == ".npz" and path.is_file():
        seq, env = load_poses(path)
        return _Source(seq, None, env, seconds)
    t0 = time.perf_counter()
    info = probe(path, settings.limits)
    seconds["decode"] = time.perf_counter() - t0
    kind = f"{pose_backend(settings).name}-{settings.analysis_fps:g}fps"
    store = PoseCache(Path(settings.cache_dir))
    digest = file_digest(path) if cache else ""
    cached = store.load(digest, kind) if cache else None
    if cached is not None:
        log.info("reference %s: poses from the cache", path.name)
        return _Source(cached[0], path, cached[1], seconds)
    seq, timing = _estimate(info, settings, progress)
    seconds["decode"] += timing["decode"]
    seconds["pose"] += timing["pose"]
    env = audio.onset_envelope(path) if info.has_audio else None
    if cache:
        store.save(digest, kind, seq, env)
    return _Source(seq, path, env, seconds)


def _estimate(info: VideoInfo, settings: EngineSettings, progress: Progress | None) -> tuple[PoseSequence, dict]:
    timings: dict[str, float] = {}
    people = pose_backend(settings).find_people(info, settings.analysis_fps or None, progress, timings)
    return main_dancer(people), timings


def analyse_people(video: Path | str, settings: EngineSettings, progress: Progress | None = None) -> People:
    """Everyone in each analysed frame of a video (at `settings.analysis_fps`; 0: every frame), not cached."""
    info = probe(Path(video), settings.limits)
    return pose_backend(settings).find_people(info, settings.analysis_fps or None, progress)


def analyse(
    source: Path | str,
    settings: EngineSettings,
    *,
    fps: float = 30.0,
    progress: Progress | None = None,
    cache: bool = True,
) -> PoseSequence:
    """A video or OpenPose directory -> the dancer's pose sequence (videos cached by content hash)."""
    return _load_source(Path(source), settings, fps=fps, cache=cache, progress=progress).sequence


def save_reference(
    video: Path | str, settings: EngineSettings, out: Path, progress: Progress | None = None
) -> PoseSequence:
    """Analyse a reference video once and store its poses (and music envelope) as `out` (.npz); `out` is
    the caller's own copy, so nothing goes into the cache as well."""
    src = _load_source(Path(video), settings, fps=30.0, cache=False, progress=progress)
    check_dancer(src.sequence)
    save_poses(src.sequence, src.envelope, Path(out))
    return src.sequence


def align_sequences(
    reference: PoseSequence,
    attempt: PoseSequence,
    rate: float,
    reference_envelope: np.ndarray | None = None,
    attempt_envelope: np.ndarray | None = None,
    allow_mirror: bool = True,
) -> tuple[LimbTrack, LimbTrack, Alignment]:
    """Both sequences on the `rate` Hz grid, aligned (music first when both soundtracks agree).

    Returns the reference track, the attempt track as matched (mirrored if the alignment says so), and the
    alignment: everything the scorer measures.
    """
    ref_track = resample(reference, rate)
    att_track = resample(attempt, rate)
    if ref_track.weights.sum() == 0 or att_track.weights.sum() == 0:
        raise NoDancerError("no body pose could be measured in that video", code="no_dancer")
    music = audio.music_offsets(reference_envelope, attempt_envelope)
    alignment = align(ref_track, att_track, audio_offsets=music, allow_mirror=allow_mirror)
    return ref_track, att_track.mirrored() if alignment.mirrored else att_track, alignment


def compare(
    reference: Path | str | PoseSequence,
    attempt: Path | str | PoseSequence,
    settings: EngineSettings,
    options: CompareOptions | None = None,
    progress: Progress | None = None,
    reference_video: Path | str | None = None,
) -> ScoreResult:
    """Score an attempt against a reference. See `engine.result.ScoreResult` for what comes back."""
    options = options or CompareOptions()
    t_start = time.perf_counter()
    ref_in = reference if isinstance(reference, PoseSequence) else Path(reference)
    att_in = attempt if isinstance(attempt, PoseSequence) else Path(attempt)
    for p in (ref_in, att_in):
        if isinstance(p, Path) and not p.exists():
            raise InputError(f"no such file or directory: {p}", code="missing_file")

    def stage(name: str) -> Progress | None:
        if progress is None:
            return None
        return lambda _s, f: progress(name, f)

    ref = _load_source(ref_in, settings, fps=options.reference_fps, cache=True, progress=stage(Stage.REFERENCE))
    att = _load_source(att_in, settings, fps=options.attempt_fps, cache=False, progress=stage(Stage.POSE))
    check_dancer(ref.sequence)
    check_dancer(att.sequence)
    if options.clip_path and att.video is None:
        raise InputError("an annotated clip needs the attempt's video, not only its keypoints", code="clip_needs_video")
    if att.sequence.duration < MIN_ATTEMPT_S:
        raise VideoError(
            f"that video is only {att.sequence.duration:.1f} s long: send the whole dance", code="too_short"
        )
    seconds = {
        "decode": ref.seconds["decode"] + att.seconds["decode"],
        "pose": ref.seconds["pose"] + att.seconds["pose"],
    }

    t0 = time.perf_counter()
    if progress:
        progress(Stage.ALIGN, 0.0)
    ref_track, oriented, alignment = align_sequences(
        ref.sequence, att.sequence, settings.grid_rate, ref.envelope, att.envelope, options.allow_mirror
    )
    seconds["align"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    deviations = measure_deviations(ref_track, oriented, alignment)
    (out,) = run_scorer(_scorer(settings.scorer_version, settings.device), [deviations])
    limb_acc = out.limb_accuracy.numpy()
    weak = feedback.weak_moments(ref_track, oriented, alignment, limb_acc, deviations)
    amplitude = feedback.amplitude_notes(ref_track, deviations, alignment)
    notes = list(dict.fromkeys(att.sequence.notes))
    score = float(out.score)
    sentences = feedback.sentences(score, weak, amplitude, alignment, deviations, notes, float(out.match) / 100)
    parts = {p: float(v) for p, v in zip(PARTS, out.parts.numpy(), strict=True) if np.isfinite(v)}
    seconds["score"] = time.perf_counter() - t0
    track = MomentTrack(
        ref_times=alignment.ref_times,
        attempt_times=alignment.attempt_times,
        limb_error=(1.0 - limb_acc).astype(np.float32),
        moment_score=(100 * out.moment_accuracy.numpy()).astype(np.float32),
    )
    result = ScoreResult(
        score=score,
        form=float(out.form),
        timing=float(out.timing),
        parts=parts,
        mirrored=alignment.mirrored,
        offset_s=alignment.offset_s,
        tempo=alignment.tempo,
        weak_moments=weak,
        feedback=sentences,
        frames={
            "reference": {"analysed": len(ref.sequence), "with_dancer": ref.sequence.frames_with_dancer},
            "attempt": {"analysed": len(att.sequence), "with_dancer": att.sequence.frames_with_dancer},
        },
        backend=att.sequence.backend,
        seconds=seconds,
        notes=notes,
        offset_source=alignment.offset_source,
        track=track,
        features=comparison_features(out, deviations),
        scorer_version=settings.scorer_version,
    )
    if options.clip_path or options.card_path:
        t0 = time.perf_counter()
        video = ref.video or (Path(reference_video) if reference_video else None)
        _render(result, ref.sequence, att, video, options, stage(Stage.RENDER))
        seconds["render"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    return result


def _render(
    result: ScoreResult,
    reference: PoseSequence,
    att: _Source,
    reference_video: Path | None,
    options: CompareOptions,
    progress: Progress | None,
) -> None:
    """Write the score card and the annotated clip that `options` ask for; record their paths in `result`."""
    if options.card_path:
        result.card_path = str(render_card(result, Path(options.card_path)))
    if options.clip_path and att.video is not None:
        clip = render_clip(
            result, reference, att.sequence, reference_video, att.video, Path(options.clip_path),
            options.clip_budget_bytes, progress,
        )  # fmt: skip
        result.clip_path = str(clip)


def run_job(
    job: ScoreJob | ReferenceJob, settings: EngineSettings, progress: Progress | None = None
) -> ScoreResult | ReferenceResult:
    """Run one job (what a pool worker calls): score an attempt, or analyse a reference."""
    if isinstance(job, ReferenceJob):
        t0 = time.perf_counter()
        report = (lambda _s, f: progress(Stage.REFERENCE, f)) if progress is not None else None
        poses = save_reference(job.video, settings, Path(job.pose_path), report)
        return ReferenceResult(job.pose_path, float(poses.duration), {"total": time.perf_counter() - t0})
    return compare(
        job.reference,
        job.attempt,
        settings,
        job.options,
        progress,
        reference_video=job.reference_video,
    )
