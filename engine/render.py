"""The annotated clip: reference and attempt side by side, time-aligned, skeletons and weak moments drawn.

For each attempt frame at time t the reference panel shows the reference frame at
`track.attempt_to_reference(t)`: the alignment decides the pairing, so a late dancer lags in the
timeline, not in the pairing. The attempt's limbs are coloured green -> red by how far off they are at
that moment; weak moments are marked while they play; the score sits in a banner and a per-moment
timeline with a playhead runs along the bottom. Frames are decoded, drawn and encoded one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from engine import palette
from engine.decode import VideoCursor, clip_timing, upright_frame
from engine.encode import DEFAULT_BUDGET_BYTES, VideoFormat, encode_clip
from engine.errors import EngineError, InputError, RenderError
from engine.progress import Progress
from engine.result import MomentTrack, ScoreResult
from engine.sequence import PoseSequence
from engine.skeleton import BONES, LIMB_MIRROR, LIMBS

log = logging.getLogger(__name__)


MAX_CANVAS_SIDE = 1280  # full-quality canvas; the byte budget may make it smaller
MAX_PANEL_HEIGHT = 640  # tall enough for a phone screen; the encode cost is in proportion
BANNER = 0.11  # banner height, as a fraction of the panel height
BANNER_OF_WIDTH = 0.05  # ... and at least this fraction of the canvas width
TIMELINE = 0.045  # timeline strip height, same
GAP = 0.012  # gap between the panels, same


def _bone_limbs() -> tuple[int, ...]:
    """For each bone of BONES, the index of the limb of LIMBS it belongs to (-1: none).

    A limb is one bone (upper arm) or two (shoulders: RShoulder-Neck-LShoulder)."""
    owner = [-1] * len(BONES)
    bone_index = {frozenset(b): i for i, b in enumerate(BONES)}
    for k, (_, a, b, _, _) in enumerate(LIMBS):
        if frozenset((a, b)) in bone_index:
            owner[bone_index[frozenset((a, b))]] = k
            continue
        for via in range(25):
            first, second = frozenset((a, via)), frozenset((via, b))
            if first in bone_index and second in bone_index:
                owner[bone_index[first]] = owner[bone_index[second]] = k
                break
    return tuple(owner)


BONE_LIMB = _bone_limbs()


@dataclass(frozen=True)
class Layout:
    """Where everything sits on one output frame, in output pixels."""

    width: int
    height: int
    banner_h: int
    panel_h: int
    ref_x: int
    ref_w: int
    att_x: int
    att_w: int

    @property
    def panel_y(self) -> int:
        return self.banner_h

    @property
    def timeline_y(self) -> int:
        return self.banner_h + self.panel_h

    @staticmethod
    def _units(reference_size: tuple[int, int], attempt_size: tuple[int, int]) -> tuple[float, float]:
        """(width, height) of the canvas for panels 1 unit tall: the banner grows with a wide canvas so
        the score stays legible when a phone shrinks two landscape panels to its width."""
        unit_w = reference_size[0] / reference_size[1] + attempt_size[0] / attempt_size[1] + GAP
        return unit_w, 1.0 + max(BANNER, BANNER_OF_WIDTH * unit_w) + TIMELINE

    @classmethod
    def natural_size(cls, reference_size: tuple[int, int], attempt_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the canvas at full quality: panels at the attempt's height, capped."""
        unit_w, unit_h = cls._units(reference_size, attempt_size)
        panel_h = min(attempt_size[1], MAX_PANEL_HEIGHT, MAX_CANVAS_SIDE / unit_w, MAX_CANVAS_SIDE / unit_h)
        return round(panel_h * unit_w), round(panel_h * unit_h)

    @classmethod
    def fit(cls, size: tuple[int, int], reference_size: tuple[int, int], attempt_size: tuple[int, int]) -> Layout:
        """Lay out a canvas of `size` (width, height) for panels of the given source frame sizes."""
        width, height = size
        unit_w, unit_h = cls._units(reference_size, attempt_size)
        panel_h = min(round(width / unit_w), round(height / unit_h))
        timeline_h = max(4, round(panel_h * TIMELINE))
        banner_h = height - panel_h - timeline_h
        gap = max(2, round(panel_h * GAP))
        ref_w = round(panel_h * reference_size[0] / reference_size[1])
        ref_w = min(ref_w, width - gap - 2)
        return cls(width, height, banner_h, panel_h, 0, ref_w, ref_w + gap, width - ref_w - gap)


def poses_at(seq: PoseSequence, times: np.ndarray) -> np.ndarray:
    """The pose at each of `times`, interpolated between the analysed frames.

    times: (N,) float64, seconds in the sequence's clip.
    Returns (N, 25, 3) float32, pixels + confidence; confidence 0 where no nearby frame saw the joint.
    """
    times = np.asarray(times, dtype=np.float64)
    out = np.zeros((len(times), 25, 3), dtype=np.float32)
    if len(seq) == 0:
        return out
    step = float(np.median(np.diff(seq.times))) if len(seq) > 1 else 0.1
    tol = 0.75 * step
    hi = np.clip(np.searchsorted(seq.times, times, side="left"), 0, len(seq) - 1)
    lo = np.clip(hi - 1, 0, len(seq) - 1)
    t_lo, t_hi = seq.times[lo], seq.times[hi]
    span = t_hi - t_lo
    w = np.where(span > 0, (times - t_lo) / np.where(span > 0, span, 1.0), 0.0).clip(0, 1)
    k_lo, k_hi = seq.keypoints[lo], seq.keypoints[hi]
    d_lo, d_hi = np.abs(times - t_lo), np.abs(times - t_hi)
    bracketed = (span <= 2.5 * step) & (times >= t_lo - tol) & (times <= t_hi + tol)
    both = (k_lo[:, :, 2] > 0) & (k_hi[:, :, 2] > 0) & bracketed[:, None]
    mixed = k_lo * (1 - w)[:, None, None] + k_hi * w[:, None, None]
    mixed[:, :, 2] = np.minimum(k_lo[:, :, 2], k_hi[:, :, 2])
    nearest = np.where((d_hi < d_lo)[:, None, None], k_hi, k_lo)
    near_enough = (np.minimum(d_lo, d_hi) <= tol)[:, None, None]
    out[:] = np.where(both[:, :, None], mixed, np.where(near_enough, nearest, 0.0))
    return out


def _draw_skeleton(
    image: np.ndarray,
    pose: np.ndarray,
    scale: tuple[float, float],
    bone_colours: list[palette.Colour],
    thickness: int,
    mirror_width: float | None = None,
) -> None:
    """Draw one skeleton in place.

    image: (H, W, 3) uint8 RGB panel; pose: (25, 3) float32, source pixels + confidence.
    scale: (sx, sy) source pixels -> panel pixels; mirror_width: source width to flip x about, or None.
    """
    xs = pose[:, 0].astype(np.float64)
    if mirror_width is not None:
        xs = mirror_width - xs
    pts = np.stack([xs * scale[0], pose[:, 1] * scale[1]], axis=1)
    fixed = np.round(pts * 4).astype(np.int64)  # 2 bits of sub-pixel precision
    seen = pose[:, 2] > 0
    outline = max(1, thickness // 2)
    for (a, b), colour in zip(BONES, bone_colours, strict=True):
        if seen[a] and seen[b]:
            pa, pb = (int(fixed[a, 0]), int(fixed[a, 1])), (int(fixed[b, 0]), int(fixed[b, 1]))
            cv2.line(image, pa, pb, (0, 0, 0), thickness + 2 * outline, cv2.LINE_AA, 2)
            cv2.line(image, pa, pb, colour, thickness, cv2.LINE_AA, 2)
    radius = max(1, thickness * 2 // 3) * 4
    for j in np.flatnonzero(seen):
        cv2.circle(image, (int(fixed[j, 0]), int(fixed[j, 1])), radius, palette.TEXT, -1, cv2.LINE_AA, 2)


def _chip(text: str, height: int, fill: palette.Colour, ink: palette.Colour = palette.TEXT) -> np.ndarray:
    """A rounded label `height` pixels tall: (h, w, 4) uint8 RGBA (transparent outside the rounded shape)."""
    f = palette.font(round(height * 0.62))
    left, top, right, bottom = f.getbbox(text)
    pad = round(height * 0.45)
    chip = Image.new("RGBA", (round(right - left) + 2 * pad, height), (*fill, 0))
    draw = ImageDraw.Draw(chip)
    draw.rounded_rectangle((0, 0, chip.width - 1, height - 1), radius=height // 2, fill=(*fill, 235))
    draw.text((pad - left, (height - (bottom - top)) // 2 - top), text, font=f, fill=(*ink, 255))
    return np.asarray(chip)


def _paste(canvas: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    """Blend an RGBA `sprite` onto the RGB `canvas` with its top-left corner at (x, y), clipped."""
    h = min(sprite.shape[0], canvas.shape[0] - y)
    w = min(sprite.shape[1], canvas.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    region = canvas[y : y + h, x : x + w]
    alpha = sprite[:h, :w, 3:].astype(np.uint16)
    region[:] = ((region * (255 - alpha) + sprite[:h, :w, :3] * alpha) // 255).astype(np.uint8)


class _Annotator:
    """Draws the frames of one clip for a given output format."""

    def __init__(
        self,
        result: ScoreResult,
        reference: PoseSequence,
        attempt: PoseSequence,
        reference_video: Path | None,
        attempt_video: Path,
        duration_s: float,
    ) -> None:
        self.result = result
        self.reference = reference
        self.attempt = attempt
        self.reference_video = reference_video
        self.attempt_video = attempt_video
        self.duration_s = duration_s
        track = result.track
        self.aligned = track is not None and int(np.isfinite(track.attempt_times).sum()) >= 2

    @property
    def track(self) -> MomentTrack:
        """The comparison's moment track (only used when `aligned`, which says there is one)."""
        if self.result.track is None:
            raise RenderError("internal error: no moment track to draw from")
        return self.result.track

    def reference_times(self, t: np.ndarray) -> np.ndarray:
        """(N,) attempt seconds -> (N,) reference seconds along the alignment."""
        if self.aligned:
            return np.asarray(self.track.attempt_to_reference(t), dtype=np.float64)
        return (t - self.result.offset_s) / (self.result.tempo or 1.0)

    def limb_errors(self, ref_t: np.ndarray) -> np.ndarray:
        """(N,) reference seconds -> (N, L) limb error 0-1 of the nearest moment (NaN outside the track)."""
        errors = np.full((len(ref_t), len(LIMBS)), np.nan)
        if not self.aligned:
            return errors
        track = self.track
        times = track.ref_times
        idx = np.clip(np.searchsorted(times, ref_t), 1, len(times) - 1)
        idx = np.where(np.abs(times[idx - 1] - ref_t) <= np.abs(times[idx] - ref_t), idx - 1, idx)
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.1
        inside = (ref_t >= times[0] - step) & (ref_t <= times[-1] + step)
        errors[inside] = track.limb_error[idx[inside]]
        if self.result.mirrored:
            errors = errors[:, list(LIMB_MIRROR)]  # attempt limb j was compared with reference limb MIRROR[j]
        return errors

    def timeline(self, layout: Layout) -> np.ndarray:
        """(h, W, 3) uint8 RGB: per-moment score along attempt time, weak moments underlined."""
        h = layout.height - layout.timeline_y
        strip = np.empty((h, layout.width, 3), dtype=np.uint8)
        strip[:] = palette.BACKGROUND
        t = (np.arange(layout.width) + 0.5) / layout.width * self.duration_s
        scores = np.full(layout.width, np.nan)
        if self.aligned:
            track = self.track
            ok = np.isfinite(track.attempt_times)
            first, last = track.attempt_times[ok].min(), track.attempt_times[ok].max()
            inside = (t >= first) & (t <= last)
            scores[inside] = np.interp(self.reference_times(t[inside]), track.ref_times, track.moment_score)
        bar_top, bar_bottom = max(1, h // 5), h - max(1, h // 5)
        strip[bar_top:bar_bottom] = palette.scores_to_rgb(scores)[None]
        weak = np.zeros(layout.width, dtype=bool)
        ref_t = self.reference_times(t)
        for moment in self.result.weak_moments:
            weak |= (ref_t >= moment.start_s) & (ref_t <= moment.end_s)
        strip[bar_bottom:, weak] = palette.WEAK
        strip[:bar_top, weak] = palette.WEAK
        return strip

    def banner(self, layout: Layout) -> np.ndarray:
        """(banner_h, W, 3) uint8 RGB: the score, form and timing."""
        h = layout.banner_h
        image = Image.new("RGB", (layout.width, h), palette.BACKGROUND)
        draw = ImageDraw.Draw(image)
        r = self.result
        big, small = palette.font(round(h * 0.62)), palette.font(round(h * 0.34))
        x = round(h * 0.3)
        score = f"{r.score:.1f}"
        draw.text((x, h // 2), score, font=big, fill=palette.score_colour(r.score * 10), anchor="lm")
        x += round(draw.textlength(score, font=big)) + round(h * 0.08)
        draw.text((x, h // 2 + round(h * 0.1)), "/10", font=small, fill=palette.MUTED, anchor="lm")
        x += round(draw.textlength("/10", font=small)) + round(h * 0.5)
        details = f"form {r.form:.0f}   timing {r.timing:.0f}"
        if r.mirrored:
            details += "   mirrored"
        draw.text((x, h // 2), details, font=small, fill=palette.TEXT, anchor="lm")
        return np.asarray(image)

    def frames(self, fmt: VideoFormat) -> Iterator[np.ndarray]:
        """The output frames for `fmt`, one per `fmt.frame_times`."""
        layout = Layout.fit((fmt.width, fmt.height), self.reference.frame_size, self.attempt.frame_size)
        times = fmt.frame_times(self.duration_s)
        ref_times = self.reference_times(times)
        ref_poses = poses_at(self.reference, ref_times)
        att_poses = poses_at(self.attempt, times)
        errors = self.limb_errors(ref_times)
        weak_notes = self._weak_at(ref_times)

        base = np.empty((layout.height, layout.width, 3), dtype=np.uint8)
        base[:] = palette.BACKGROUND
        base[: layout.banner_h] = self.banner(layout)
        base[layout.timeline_y :] = self.timeline(layout)
        label_h = max(10, round(max(layout.panel_h * 0.05, layout.width * 0.02)))
        ref_label = _chip("REFERENCE", label_h, palette.SURFACE)
        att_label = _chip("YOU (mirrored)" if self.result.mirrored else "YOU", label_h, palette.SURFACE)
        weak_chips: dict[str, np.ndarray] = {}
        plain_ref = np.empty((layout.panel_h, layout.ref_w, 3), dtype=np.uint8)
        plain_ref[:] = palette.SURFACE

        ref_scale = (
            layout.ref_w / self.reference.frame_size[0],
            layout.panel_h / self.reference.frame_size[1],
        )
        att_scale = (layout.att_w / self.attempt.frame_size[0], layout.panel_h / self.attempt.frame_size[1])
        thickness = max(2, round(layout.panel_h / 160))
        ref_bones = [palette.REFERENCE_SKELETON] * len(BONES)
        margin = max(4, label_h // 3)
        y0, y1 = layout.panel_y, layout.panel_y + layout.panel_h

        attempt_cursor = VideoCursor(self.attempt_video)
        reference_cursor = VideoCursor(self.reference_video) if self.reference_video else None
        try:
            canvas = base.copy()
            ref_cache: tuple[int, np.ndarray] | None = None
            for k, t in enumerate(times):
                np.copyto(canvas, base)
                ref_panel = canvas[y0:y1, layout.ref_x : layout.ref_x + layout.ref_w]
                att_panel = canvas[y0:y1, layout.att_x : layout.att_x + layout.att_w]
                if reference_cursor is None:
                    ref_panel[:] = plain_ref
                else:
                    serial, frame = reference_cursor.at(float(ref_times[k]))
                    if ref_cache is None or ref_cache[0] != serial:
                        ref_cache = (serial, upright_frame(frame, layout.ref_w, layout.panel_h))
                    ref_panel[:] = ref_cache[1]
                _, frame = attempt_cursor.at(float(t))
                att_panel[:] = upright_frame(frame, layout.att_w, layout.panel_h, self.result.mirrored)

                _draw_skeleton(ref_panel, ref_poses[k], ref_scale, ref_bones, thickness)
                colours = [
                    palette.NEUTRAL_BONE if limb < 0 else palette.error_colour(errors[k, limb]) for limb in BONE_LIMB
                ]
                mirror = self.attempt.frame_size[0] if self.result.mirrored else None
                _draw_skeleton(att_panel, att_poses[k], att_scale, colours, thickness, mirror)

                _paste(canvas, ref_label, layout.ref_x + margin, y0 + margin)
                _paste(canvas, att_label, layout.att_x + margin, y0 + margin)
                note = weak_notes[k]
                if note:
                    border = max(3, thickness * 2)
                    cv2.rectangle(att_panel, (0, 0), (layout.att_w - 1, layout.panel_h - 1), palette.WEAK, border)
                    chip = weak_chips.get(note)
                    if chip is None:
                        chip = weak_chips[note] = _chip(note, round(label_h * 1.2), palette.WEAK)
                    _paste(canvas, chip, layout.att_x + margin, y1 - margin - chip.shape[0])
                x = min(layout.width - 2, int(t / self.duration_s * layout.width))
                canvas[layout.timeline_y :, max(0, x - 1) : x + 2] = palette.TEXT
                yield canvas
        finally:
            attempt_cursor.close()
            if reference_cursor is not None:
                reference_cursor.close()

    def _weak_at(self, ref_times: np.ndarray) -> list[str]:
        """For each reference time, the note of the weak moment playing then ('' when none)."""
        notes = [""] * len(ref_times)
        for moment in self.result.weak_moments:
            label = moment.note or f"{moment.part} off"
            for k in np.flatnonzero((ref_times >= moment.start_s) & (ref_times <= moment.end_s)):
                notes[k] = notes[k] or label
        return notes


def render_clip(
    result: ScoreResult,
    reference: PoseSequence,
    attempt: PoseSequence,
    reference_video: Path | None,
    attempt_video: Path,
    out: Path,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
    progress: Progress | None = None,
) -> Path:
    """Write the annotated side-by-side clip of a comparison to `out` (H.264 MP4 within `budget_bytes`).

    reference_video: the reference's video, or None to draw its skeleton on a plain background
        (OpenPose JSON references). The attempt's audio is kept; the clip lasts as long as the attempt.
    """
    attempt_video = Path(attempt_video)
    if not attempt_video.is_file():
        raise InputError(f"the attempt video {attempt_video.name} does not exist")
    if reference_video is not None and not Path(reference_video).is_file():
        raise InputError(f"the reference video {Path(reference_video).name} does not exist")
    for name, seq in (("reference", reference), ("attempt", attempt)):
        if min(seq.frame_size) <= 0:
            raise InputError(f"the {name} pose data has no frame size: cannot place its skeleton")
    duration, fps = clip_timing(attempt_video)
    duration = duration or attempt.duration
    annotator = _Annotator(result, reference, attempt, reference_video, attempt_video, duration)
    size = Layout.natural_size(reference.frame_size, attempt.frame_size)
    try:
        return encode_clip(
            annotator.frames,
            Path(out),
            size=size,
            duration_s=duration,
            fps=fps,
            budget_bytes=budget_bytes,
            audio_from=attempt_video,
            progress=progress,
        )
    except EngineError:
        raise
    except (av.FFmpegError, OSError) as exc:
        log.exception("rendering the clip failed")
        raise RenderError("the annotated clip could not be made from these videos") from exc
