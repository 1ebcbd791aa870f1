"""Video decoding with PyAV: safe opening of untrusted uploads, streaming frames with their own timestamps.

Uploads are hostile until proven otherwise: the container format is whitelisted (an HLS playlist renamed
`.mp4` would make FFmpeg open other files), the magic bytes must agree, the declared resolution is checked
before a single frame is decoded, and duration is capped. Corrupt data mid-file keeps the good frames;
a truncated file is detected by comparing the last timestamp with the declared duration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np

from engine.errors import VideoError
from engine.timecode import clock

log = logging.getLogger(__name__)

# Demuxers FFmpeg may use for an upload: MP4/MOV/M4V/3GP, Matroska/WebM, AVI. Nothing that can reference
# other files (hls, concat, image2...).
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi"
MAX_PROBE_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class VideoLimits:
    """What an upload may be. Sizes in bytes, durations in seconds, pixels per frame, frames per second.

    A dance needs at least `min_duration_s` of video and `min_fps` frames a second to be scored at all:
    below that (a single picture, a time-lapse, a slideshow) there is no movement to compare.
    """

    max_bytes: int = 200 * 2**20
    max_duration_s: float = 180.0
    max_pixels: int = 4096 * 4096
    min_duration_s: float = 1.0
    min_fps: float = 5.0


@dataclass
class VideoInfo:
    """What `probe` learnt about a video without decoding it.

    width, height: the upright frame in square pixels, as it is meant to be seen (rotation applied, and a
        sample aspect ratio other than 1:1 applied to the width: frames are decoded to this shape).
    rotation: degrees counter-clockwise that must be applied to decoded frames to make them upright.
    duration: seconds, from the container or (when it declares none) from the last packet.
    """

    path: Path
    width: int
    height: int
    rotation: int
    duration: float
    fps: float
    frames_declared: int
    has_audio: bool
    codec: str
    notes: list[str] = field(default_factory=list)


def sniff_container(head: bytes) -> str | None:
    """Name the container family from the first bytes of a file, or None if it is not a video we accept."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def _describe_not_video(head: bytes) -> str:
    if not head.strip(b"\x00"):
        return "that file is empty"
    if head.startswith(b"#EXTM3U"):
        return "that is a playlist, not a video file"
    if head[:4] in (b"\x89PNG", b"GIF8") or head[:3] == b"\xff\xd8\xff":
        return "that is a picture, not a video: send the video itself"
    if head[:5] == b"%PDF-":
        return "that is a PDF document, not a video"
    try:
        head.decode("utf-8")
        return "that is a text file, not a video"
    except UnicodeDecodeError:
        return "that file is not a video we can read (send an MP4, MOV, WebM, MKV or AVI)"


def open_container(path: Path) -> av.container.InputContainer:
    """Open an untrusted file for reading with the format whitelist and a probe pixel cap."""
    try:
        return av.open(
            str(path),
            mode="r",
            options={"format_whitelist": FORMAT_WHITELIST, "max_pixels": str(MAX_PROBE_PIXELS)},
            timeout=30.0,
        )
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        log.info("cannot open %s: %s", path, exc)
        raise VideoError(
            "that video file is damaged or not a video we can read (send an MP4, MOV, WebM, MKV or AVI)",
            code="unreadable_video",
        ) from exc


def probe(path: Path, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Check an upload and describe it, without decoding any frame.

    Raises VideoError with a specific message for: missing file, zero bytes, too large, not a video
    (magic bytes), unreadable container, no video stream, too many pixels, too long, too short (a single
    frame), too few frames a second (a time-lapse or a slideshow).
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"no such video file: {path.name}", code="missing_file")
    size = path.stat().st_size
    if size == 0:
        raise VideoError("that file is empty (0 bytes): the upload may have failed, try again", code="empty_file")
    if size > limits.max_bytes:
        raise VideoError(
            f"that video is {size / 2**20:.0f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB: "
            "trim it or send it at a lower resolution",
            code="too_large",
        )
    with path.open("rb") as fh:
        head = fh.read(64)
    if sniff_container(head) is None:
        raise VideoError(_describe_not_video(head), code="not_a_video")

    with open_container(path) as container:
        if not container.streams.video:
            raise VideoError(
                "that file has no video in it (only sound?): send a video of the dance", code="no_video_stream"
            )
        stream = container.streams.video[0]
        cc = stream.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        if width <= 0 or height <= 0:
            raise VideoError("that video has no readable picture size", code="unreadable_video")
        if width * height > limits.max_pixels:
            raise VideoError(
                f"that video is {width}x{height}, larger than we accept "
                f"({limits.max_pixels / 1e6:.0f} megapixels): send it at 1080p or less",
                code="too_many_pixels",
            )
        rotation = _rotation_of(container, stream)
        duration = _declared_duration(container, stream)
        if duration is None:
            duration = _demuxed_duration(container, stream)
        if duration is None or duration <= 0:
            raise VideoError("that video has no frames we can read", code="unreadable_video")
        if duration > limits.max_duration_s:
            raise VideoError(
                f"that video is {clock(duration)} long; the limit is {clock(limits.max_duration_s)}: "
                "trim it to the dance",
                code="too_long",
            )
        if duration < limits.min_duration_s:
            raise VideoError(
                f"that video is only {duration:.1f} s long: send a video of the whole dance", code="too_short"
            )
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        frames_per_s = stream.frames / duration if stream.frames else float(rate)
        if frames_per_s < limits.min_fps:
            raise VideoError(
                f"that video has only {frames_per_s:.1f} frames a second; a dance needs at least "
                f"{limits.min_fps:g} (film it as a normal video, not a time-lapse or a slideshow)",
                code="too_sparse",
            )
        aspect = stream.sample_aspect_ratio or cc.sample_aspect_ratio
        if aspect and aspect > 0 and aspect != 1:  # non-square pixels: the width as it is meant to be seen
            width = max(2, round(width * aspect / 2) * 2)
        if rotation % 180:
            width, height = height, width
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            rotation=rotation,
            duration=float(duration),
            fps=float(rate),
            frames_declared=int(stream.frames or 0),
            has_audio=bool(container.streams.audio),
            codec=str(cc.name),
        )


def _rotation_of(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise degrees (0, 90, 180, 270) that make decoded frames upright.

    PyAV exposes the display matrix only on decoded frames (`frame.rotation`, -90 on a portrait phone
    clip), so the first decodable frame is read; the caller has already checked the pixel count.
    """
    try:
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    return int(round(frame.rotation or 0)) % 360
            except av.error.FFmpegError:
                continue
    finally:
        container.seek(0)
    return 0


def _declared_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _demuxed_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    """Duration from the last packet's timestamp (browser WebM often declares none): demux only, fast."""
    last = None
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            last = end if last is None else max(last, end)
    container.seek(0)
    return last


@dataclass
class DecodeReport:
    """What happened while decoding: frames seen, errors skipped, where decoding stopped (seconds)."""

    frames_decoded: int = 0
    frames_yielded: int = 0
    corrupt_packets: int = 0
    last_time: float = 0.0


def iter_frames(
    info: VideoInfo,
    *,
    fps: float | None,
    start: float = 0.0,
    end: float | None = None,
    max_side: int | None = 640,
    report: DecodeReport | None = None,
    threads: int = 0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield `(t, image)` for frames sampled at about `fps` between `start` and `end` seconds.

    t: seconds from the stream's own timestamps (variable frame rate is right).
    image: (H, W, 3) uint8 RGB of the upright frame (rotation applied), scaled so its longer side is at most
        `max_side` pixels (None: full size).
    fps: None yields every frame. Corrupt packets are skipped (counted in `report`); decoding goes on.
    threads: FFmpeg decoder threads (0 lets FFmpeg choose; 1 when the caller already decodes segments of the
        clip in parallel). Slice threads only: with frame threads, which frames survive a damaged or
        truncated file depends on the thread count, and so would the score.
    When sampling at half the source's frame rate or less, frames no other frame depends on (B-frames, mostly)
    are not decoded at all: the sampled times stay within two source frames of the grid, for 40% less work.
    """
    report = report if report is not None else DecodeReport()
    step = 1.0 / fps if fps else 0.0
    next_t = start
    out_w, out_h = output_size(info, max_side)
    with open_container(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = threads
        if fps and fps <= info.fps / 2:
            stream.codec_context.skip_frame = "NONREF"
        if start > 0:
            container.seek(int(start / _time_base(stream)), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                report.corrupt_packets += 1
                continue
            except av.error.FFmpegError as exc:
                report.corrupt_packets += 1
                log.debug("decode error in %s: %s", info.path, exc)
                continue
            for frame in frames:
                if frame.pts is None or frame.time_base is None:
                    continue
                t = float(frame.pts * frame.time_base)
                report.frames_decoded += 1
                report.last_time = max(report.last_time, t)
                if t < start - 1e-6:
                    continue
                if end is not None and t >= end:
                    return
                if step and t + 1e-6 < next_t:
                    continue
                next_t = (math.floor((t - start) / step + 1e-6) + 1) * step + start if step else t
                image = _to_rgb(frame, info, out_w, out_h)
                report.frames_yielded += 1
                yield t, image


def output_size(info: VideoInfo, max_side: int | None) -> tuple[int, int]:
    """Decoded (pre-rotation) size to scale to, preserving the aspect ratio."""
    w, h = (info.height, info.width) if info.rotation % 180 else (info.width, info.height)
    if max_side is None or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


def _time_base(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's time base (seconds per timestamp unit); 1/90000, MPEG's, when it declares none."""
    return stream.time_base or Fraction(1, 90000)


def _to_rgb(frame: av.VideoFrame, info: VideoInfo, out_w: int, out_h: int) -> np.ndarray:
    image: np.ndarray = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
    rot = info.rotation % 360
    if rot == 90:
        image = np.ascontiguousarray(np.rot90(image, 1))
    elif rot == 180:
        image = np.ascontiguousarray(image[::-1, ::-1])
    elif rot == 270:
        image = np.ascontiguousarray(np.rot90(image, 3))
    return image


def decode_floor(info: VideoInfo, threads: int = 1) -> int:
    """Decode every frame of the video and do nothing else; return the frame count (the benchmarks' floor).

    threads: decoder threads (1: one core, like `ffmpeg -threads 1 -f null`; 0: FFmpeg's choice).
    """
    n = 0
    with open_container(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE" if threads == 1 else "AUTO"
        stream.codec_context.thread_count = threads
        for packet in container.demux(stream):
            try:
                n += len(packet.decode())
            except av.error.FFmpegError:
                continue
    return n


# --- reading a clip for drawing ----------------------------------------------------------------------------


class VideoCursor:
    """One video's frames in time order, for drawing: `at(t)` is the frame on screen at `t` seconds (use
    `upright_frame` to scale and rotate it). Frames larger than MAX_PIXELS are refused before decoding."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.container = open_container(self.path)
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path.name} has no video stream")
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        if ctx.width * ctx.height > MAX_PROBE_PIXELS:
            self.container.close()
            raise VideoError(f"{self.path.name} is {ctx.width}x{ctx.height}: too large a frame to render")
        self.stream.thread_type = "AUTO"
        # Deblocking is invisible once a frame is scaled into its panel; skipping it saves ~20% of decoding.
        self.stream.codec_context.options = {"skip_loop_filter": "all"}
        self._restart(0.0)

    def _restart(self, t: float) -> None:
        if t > 0:
            self.container.seek(int(t / _time_base(self.stream)), stream=self.stream)
        self.frames = self._decode()
        first = next(self.frames, None)
        if first is None:
            raise VideoError(f"{self.path.name} has no frames we can decode")
        self.current: tuple[float, av.VideoFrame] = first
        self.upcoming = next(self.frames, None)
        self.serial = 0

    def _decode(self) -> Iterator[tuple[float, av.VideoFrame]]:
        """Decode packet by packet so a corrupt stretch loses only its own frames."""
        last = -1.0
        for packet in self.container.demux(self.stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                log.warning("%s: skipped corrupt data after %.2f s", self.path.name, last)
                continue
            for frame in frames:
                # The clip's own clock, as the pose timestamps use (engine.decode.iter_frames).
                t = float(frame.time) if frame.time is not None else last + 1e-3
                last = t
                yield t, frame

    def at(self, t: float) -> tuple[int, av.VideoFrame]:
        """(serial, frame): the latest frame with time <= t (the first one before the start).

        The serial changes exactly when the frame does, so a caller can reuse its scaled copy."""
        if t < self.current[0] - 0.5:
            self._restart(max(0.0, t - 1.0))
        while self.upcoming is not None and self.upcoming[0] <= t + 1e-4:
            self.current, self.upcoming = self.upcoming, next(self.frames, None)
            self.serial += 1
        return self.serial, self.current[1]

    def close(self) -> None:
        self.container.close()


def upright_frame(frame: av.VideoFrame, width: int, height: int, mirror: bool = False) -> np.ndarray:
    """The frame scaled to (height, width, 3) uint8 RGB after applying its rotation metadata.

    mirror: flip left-right too (OpenCV's flip: numpy's negative-stride copy is ten times slower)."""
    turns = round((frame.rotation or 0) / 90) % 4
    size = (height, width) if turns % 2 else (width, height)
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        image = _scaled_i420(frame, size)
    else:
        image = cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_LINEAR)
    if turns:
        image = np.ascontiguousarray(np.rot90(image, turns))
    return cv2.flip(image, 1) if mirror else image


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """(h, w) uint8 view of one plane of a decoded frame (no copy; rows may be padded in memory)."""
    plane = frame.planes[index]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
    return rows[: plane.height, : plane.width]


def _scaled_i420(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """A yuv420p frame scaled to (size[1], size[0], 3) uint8 RGB.

    Scales the planes first and converts colour at the small size: converting the full frame costs more
    than everything else drawn per frame. (OpenCV is several times faster here than swscale via PyAV.)"""
    w, h = size
    w2, h2 = w + w % 2, h + h % 2
    luma = cv2.resize(_plane(frame, 0), (w2, h2), interpolation=cv2.INTER_LINEAR)
    u, v = (cv2.resize(_plane(frame, i), (w2 // 2, h2 // 2), interpolation=cv2.INTER_LINEAR) for i in (1, 2))
    small = np.concatenate([luma.ravel(), u.ravel(), v.ravel()]).reshape(-1, w2)
    return cv2.cvtColor(small, cv2.COLOR_YUV2RGB_I420)[:h, :w]


def clip_timing(path: Path) -> tuple[float, float]:
    """(duration in seconds, frame rate) of a clip from its headers, as the annotated clip plays it (0 s
    when the headers give no duration). A variable-rate clip's rate is the higher of its average and its
    guessed rate, the motion's own."""
    with open_container(path) as container:
        if not container.streams.video:
            raise VideoError(f"{Path(path).name} has no video stream")
        stream = container.streams.video[0]
        # A variable-rate clip averages low across a freeze; its nominal rate is the motion's own.
        rate = max(float(stream.average_rate or 0), float(stream.guessed_rate or 0)) or 30.0
        duration = container.duration / av.time_base if container.duration else None
        if duration is None and stream.duration is not None:
            duration = float(stream.duration * _time_base(stream))
        return (duration or 0.0), float(rate)
