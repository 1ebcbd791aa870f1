"""H.264 MP4 writer that fits a byte budget: the clips the bots upload must play inline and fit the cap.

Output: H.264 (libx264), yuv420p, even width and height, MP4 with the index (`moov`) first so it plays
while it downloads. The size is bounded by choosing resolution, frame rate and bitrate from the budget
and capping the bitrate with x264's VBV (`maxrate`/`bufsize`; crf alone does not bound the size); if a
pass still overshoots, the clip is encoded again smaller. The audio of a source clip is kept: AAC is
copied when it fits, anything else (Opus, MP3, or AAC too fat for the budget) is re-encoded to AAC.

Frames are streamed: the caller gives a function that yields them for a chosen `VideoFormat`, so a
second pass can ask for them again without a clip ever being held in memory.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from queue import Empty, Full, Queue
from typing import Any, TypeVar

import av
import cv2
import numpy as np

from engine.atomic_file import atomic_path
from engine.decode import open_container
from engine.errors import InputError, RenderError
from engine.progress import Progress

log = logging.getLogger(__name__)

DEFAULT_BUDGET_BYTES = 8 * 2**20
MIN_BUDGET_BYTES = 64 * 2**10  # plus MIN_BYTES_PER_SECOND for each second: below that nothing useful fits
MIN_BYTES_PER_SECOND = 3_000
# The fastest presets; "superfast" keeps CABAC and costs little more. Chosen for the render speed target.
PRESET = "ultrafast"
CRF = 23  # the quality aimed at when the budget allows more
MIN_BITS_PER_PIXEL = 0.045  # below this a frame turns to mush: trade resolution, then frame rate
VBV_SECONDS = 1.0  # bufsize as seconds of maxrate: the most the encoder may run ahead of the cap
MAX_FPS = 30
MAX_PASSES = 4

# Long sides tried, best first, at the source frame rate; then smaller frames at lower frame rates.
_LONG_SIDES = (1920, 1600, 1280, 1080, 960, 854, 720, 640)
_LOW_RATE_STEPS = ((640, 20), (640, 15), (480, 15), (360, 15), (360, 12), (240, 12), (240, 10))

T = TypeVar("T")


@dataclass(frozen=True)
class VideoFormat:
    """What one encoding pass writes: frame size in pixels (even), frames per second, rate cap."""

    width: int
    height: int
    fps: int
    maxrate: int  # bits per second
    bufsize: int  # bits

    def frame_count(self, duration_s: float) -> int:
        """Number of frames that cover `duration_s` seconds at this rate (at least one)."""
        return max(1, round(duration_s * self.fps))

    def frame_times(self, duration_s: float) -> np.ndarray:
        """(N,) float64, seconds: the presentation time of each output frame."""
        return np.arange(self.frame_count(duration_s), dtype=np.float64) / self.fps


@dataclass(frozen=True)
class AudioSource:
    """The soundtrack of a source clip, as found by `probe_audio`."""

    path: Path
    codec: str
    sample_rate: int
    channels: int
    bitrate: int  # bits per second, measured from the packets


@dataclass(frozen=True)
class AudioPlan:
    """How the soundtrack goes into the output: copied as it is, or re-encoded to AAC at `bitrate`."""

    source: AudioSource
    copy: bool
    bitrate: int  # bits per second


FrameSource = Callable[[VideoFormat], Iterable[np.ndarray]]


def minimum_budget(duration_s: float) -> int:
    """The smallest byte budget accepted for a clip of `duration_s` seconds (a tiny frame, no sound)."""
    return int(MIN_BUDGET_BYTES + MIN_BYTES_PER_SECOND * duration_s)


def even(n: float) -> int:
    """The nearest even integer >= 2 (H.264 in yuv420p needs even dimensions)."""
    return max(2, 2 * round(n / 2))


def probe_audio(path: Path) -> AudioSource | None:
    """Find the first audio stream of `path` and measure its bitrate (a demux-only pass, no decoding)."""
    with open_container(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if not ctx.sample_rate or not ctx.channels:
            log.warning("audio stream of %s has no sample rate or channels: dropped", path)
            return None
        total = 0
        first = last = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            total += packet.size
            t = float(packet.pts * packet.time_base)
            end = t + float((packet.duration or 0) * packet.time_base)
            first = t if first is None else min(first, t)
            last = end if last is None else max(last, end)
        if first is None or last is None or last <= first:
            return None
        return AudioSource(
            path=Path(path),
            codec=ctx.name,
            sample_rate=int(ctx.sample_rate),
            channels=int(ctx.channels),
            bitrate=int(total * 8 / (last - first)),
        )


def plan_audio(source: AudioSource | None, budget_bytes: int, duration_s: float) -> AudioPlan | None:
    """Keep the soundtrack within a fair share of the budget: copy AAC that fits, else re-encode to AAC."""
    if source is None:
        return None
    total_bps = budget_bytes * 8 / max(duration_s, 0.1)
    cap = int(min(128_000, max(32_000, 0.15 * total_bps)))
    if source.codec == "aac" and source.bitrate <= 1.25 * cap:
        return AudioPlan(source, copy=True, bitrate=source.bitrate)
    bitrate = min(cap, 64_000 * min(source.channels, 2))
    return AudioPlan(source, copy=False, bitrate=bitrate)


def plan_video(size: tuple[int, int], duration_s: float, fps: float, video_bytes: float) -> VideoFormat:
    """Choose frame size, frame rate and rate cap so `video_bytes` holds `duration_s` seconds.

    size: (width, height) of the full-quality frame; the aspect ratio is kept and nothing is upscaled.
    """
    width, height = size
    long_natural = max(width, height)
    fps_natural = max(1, min(MAX_FPS, round(fps)))
    maxrate = max(8_000, int(video_bytes * 8 / (duration_s + VBV_SECONDS)))

    def fit(long_side: int, rate: int) -> VideoFormat:
        scale = min(1.0, long_side / long_natural)
        return VideoFormat(
            width=even(width * scale),
            height=even(height * scale),
            fps=min(rate, fps_natural),
            maxrate=maxrate,
            bufsize=int(maxrate * VBV_SECONDS),
        )

    sides = [long_natural] + [side for side in _LONG_SIDES if side < long_natural]
    candidates = [fit(side, fps_natural) for side in sides]
    candidates += [fit(side, rate) for side, rate in _LOW_RATE_STEPS]
    for candidate in candidates:
        if maxrate / (candidate.width * candidate.height * candidate.fps) >= MIN_BITS_PER_PIXEL:
            return candidate
    return candidates[-1]


def _container_overhead(duration_s: float, fps: float, audio: AudioPlan | None) -> float:
    """Bytes the MP4 boxes take beyond the media: the index grows with the number of samples."""
    samples = duration_s * min(fps, MAX_FPS) + (duration_s * audio.source.sample_rate / 1024 if audio else 0)
    return 48 * 2**10 + 24 * samples


def encode_clip(
    frames: FrameSource,
    out: Path,
    *,
    size: tuple[int, int],
    duration_s: float,
    fps: float,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
    audio_from: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write an H.264 MP4 of `duration_s` seconds to `out` that is at most `budget_bytes` long.

    frames: called with the chosen `VideoFormat`; yields (height, width, 3) uint8 RGB frames, one per
        output frame (`VideoFormat.frame_times`); a short source is padded with its last frame.
    size: (width, height) the frames would have at full quality; fps: the source frame rate.
    audio_from: a clip whose first audio stream is muxed in on the clip's own clock (frame k of the output
        is at k / fps seconds of that clock, as pose timestamps are), trimmed to `duration_s`.
    The file appears at `out` only when complete; a failure leaves nothing behind.
    """
    if not duration_s > 0:
        raise InputError("the clip to render has no duration")
    if budget_bytes < minimum_budget(duration_s):
        raise InputError(
            f"a clip size limit of {budget_bytes / 1024:.0f} KiB is too small for {duration_s:.0f} s of video: "
            f"allow at least {math.ceil(minimum_budget(duration_s) / 1024)} KiB"
        )
    out = Path(out)
    audio = plan_audio(probe_audio(audio_from), budget_bytes, duration_s) if audio_from else None
    target = float(budget_bytes)
    with atomic_path(out) as tmp:
        for attempt in range(MAX_PASSES):
            video_bytes = target * 0.97 - _container_overhead(duration_s, fps, audio)
            video_bytes -= (audio.bitrate * duration_s / 8) if audio else 0
            if video_bytes <= 0 and audio is not None:
                log.warning("budget %d too small for audio: the clip is written without sound", budget_bytes)
                audio = None
                continue
            fmt = plan_video(size, duration_s, fps, video_bytes)
            log.info("encode pass %d: %s, audio %s", attempt + 1, fmt, audio)
            _write(tmp, frames(fmt), fmt, duration_s, audio, progress)
            written = tmp.stat().st_size
            if written <= budget_bytes:
                return out  # leaving the block puts the file in place
            log.warning("pass %d wrote %d bytes over a budget of %d: again smaller", attempt + 1, written,
                        budget_bytes)  # fmt: skip
            target *= 0.9 * budget_bytes / written
            if audio is not None and audio.copy:
                audio = AudioPlan(audio.source, copy=False, bitrate=min(audio.bitrate, 64_000))
        raise RenderError(
            f"the annotated clip does not fit in {budget_bytes / 2**20:.1f} MiB even at the lowest quality; "
            "allow a larger size or send a shorter video"
        )


def _write(
    path: Path,
    frames: Iterable[np.ndarray],
    fmt: VideoFormat,
    duration_s: float,
    audio: AudioPlan | None,
    progress: Progress | None,
) -> None:
    """One encoding pass: video frames from `frames`, audio muxed in step with them."""
    total = fmt.frame_count(duration_s)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
        stream = output.add_stream("libx264", rate=Fraction(fmt.fps))
        stream.width, stream.height, stream.pix_fmt = fmt.width, fmt.height, "yuv420p"
        stream.time_base = Fraction(1, fmt.fps)
        stream.codec_context.time_base = Fraction(1, fmt.fps)
        stream.options = {
            "preset": PRESET,
            "crf": str(CRF),
            "maxrate": str(fmt.maxrate),
            "bufsize": str(fmt.bufsize),
            "g": str(4 * fmt.fps),
        }
        soundtrack = _Soundtrack(audio, output, duration_s) if audio else None
        try:
            video_frames = (_to_video_frame(image, fmt) for image in _exactly(frames, total))
            for index, frame in enumerate(_ahead(video_frames, depth=8)):
                frame.pts = index
                for packet in stream.encode(frame):
                    output.mux(packet)
                if soundtrack:
                    soundtrack.mux_until((index + 1) / fmt.fps)
                if progress and index % 15 == 0:
                    progress("render", index / total)
            for packet in stream.encode():
                output.mux(packet)
            if soundtrack:
                soundtrack.finish()
        finally:
            if soundtrack:
                soundtrack.close()
    if progress:
        progress("render", 1.0)


def _exactly(frames: Iterable[np.ndarray], count: int) -> Iterator[np.ndarray]:
    """The first `count` frames; a source that ends early is padded by repeating its last frame."""
    last = None
    produced = 0
    for image in frames:
        if produced == count:
            break
        last = image
        produced += 1
        yield image
    if last is None:
        raise RenderError("the clip to render has no frames")
    for _ in range(count - produced):
        yield last


def _ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    """Iterate `items` in a background thread, at most `depth` ahead of the consumer.

    Drawing and decoding (numpy, OpenCV and FFmpeg release the GIL) then overlap with x264 on the
    other core. Memory stays bounded by `depth` items; an error in the producer is raised here."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put((True, item), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((False, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put((False, exc))

    worker = threading.Thread(target=produce, name="clip-frames", daemon=True)
    worker.start()
    try:
        while True:
            more, item = queue.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                worker.join(timeout=0.05)
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _to_video_frame(image: np.ndarray, fmt: VideoFormat) -> av.VideoFrame:
    """(H, W, 3) uint8 RGB -> yuv420p frame (OpenCV's converter is several times faster than swscale's)."""
    if image.shape != (fmt.height, fmt.width, 3) or image.dtype != np.uint8:
        raise RenderError(f"internal error: frame of shape {image.shape}, expected {(fmt.height, fmt.width, 3)}")
    yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), dtype=np.uint8)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


class _Soundtrack:
    """Muxes the source's audio into `output` in step with the video, copied or re-encoded to AAC."""

    def __init__(self, plan: AudioPlan, output: av.container.OutputContainer, duration_s: float) -> None:
        self.plan = plan
        self.end_s = duration_s
        self.output = output
        self.input = open_container(plan.source.path)
        self.in_stream = self.input.streams.audio[0]
        if plan.copy:
            self.out_stream = output.add_stream_from_template(self.in_stream)
        else:
            rate = plan.source.sample_rate if plan.source.sample_rate in _AAC_RATES else 48_000
            layout = "mono" if plan.source.channels == 1 else "stereo"
            self.out_stream = output.add_stream("aac", rate=rate)
            self.out_stream.layout = layout
            self.out_stream.bit_rate = plan.bitrate
            self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=1024)
            self.samples = 0
        self.packets = self.input.demux(self.in_stream)
        self.pending: av.Packet | None = None
        self.done = False

    def mux_until(self, t: float) -> None:
        """Mux the audio that starts before `t` seconds of output time."""
        while not self.done:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                self.done = True
                break
            if packet.pts is None:
                continue
            start = float(packet.pts * packet.time_base)
            if start >= self.end_s:
                self.done = True
                break
            if start >= t:
                self.pending = packet
                break
            self._mux(packet, start)

    def _mux(self, packet: av.Packet, start: float) -> None:
        if self.plan.copy:
            packet.stream = self.out_stream
            self.output.mux(packet)
            return
        try:
            decoded = packet.decode()
        except av.FFmpegError:
            log.warning("skipped a corrupt audio packet at %.2f s", start)
            return
        for frame in decoded:
            if not isinstance(frame, av.AudioFrame):  # an audio stream's packets hold audio frames
                continue
            frame.pts = None
            self._encode(self.resampler.resample(frame))

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        rate = self.out_stream.codec_context.sample_rate
        limit = math.ceil(self.end_s * rate)
        for frame in frames:
            if self.samples >= limit:
                return
            frame.pts = self.samples
            frame.time_base = Fraction(1, rate)
            self.samples += frame.samples
            for packet in self.out_stream.encode(frame):
                self.output.mux(packet)

    def finish(self) -> None:
        """Mux the rest up to the clip's end and flush the encoder."""
        self.mux_until(math.inf)
        if not self.plan.copy:
            self._encode(self.resampler.resample(None))
            for packet in self.out_stream.encode(None):
                self.output.mux(packet)

    def close(self) -> None:
        self.input.close()


_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
