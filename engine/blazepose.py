"""BlazePose in PyTorch, run the way MediaPipe runs it, on every person in frame and on batches of frames.

The networks come from `models.blazepose` (the mediapipe wheel's own weights). Around them, the steps of
MediaPipe 0.10.21's pose graph (`pose_landmark_cpu`, constants from its expanded config):

1. Detection: the frame letterboxed to 224x224 (zero border, values in [-1, 1]); the detector's 2254 SSD
   anchors decoded into boxes and 4 keypoints; scores >= 0.5 kept; weighted non-maximum suppression
   (IoU 0.3). MediaPipe keeps the first detection only; every one is kept here.
2. Region of interest: centred on keypoint 0 (mid-hip), side twice its distance to keypoint 1, rotated so
   that keypoint 1 points up, enlarged 1.25x (AlignmentPointsRects + RectTransformation).
3. Landmarks: the region cut out to 256x256 (an affine `grid_sample`, replicated border, values in
   [0, 1]); the landmark model; a person is there when its presence is >= 0.5; the 39 landmarks refined
   with the heatmap (7x7 confidence-weighted mean where the heatmap's peak is >= 0.5) and projected back
   into the frame. Landmarks 33 and 34 are auxiliary: they give the region for the next crop.
4. Tracking: as MediaPipe, each frame is cropped where the previous frame's auxiliary landmarks put each
   person; the detector runs on every frame too, and a detection nobody is followed near starts a new
   person. A frame depends on the one before, so a clip is cut into streams (time segments) followed
   side by side: each step puts the next frame of every stream through the networks as one batch.
   People are then linked from frame to frame and each person's landmarks smoothed with MediaPipe's
   filters (a one-euro filter scaled by the body's size, a low-pass filter on visibility, one analysed
   frame counted as 1/30 s as mediapipe's solutions API does), so both backends give the same signal.

Coordinates are pixels of the frame as analysed; a region is (centre x, centre y, side, rotation) in
pixels and radians.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual alias)

from models.blazepose import DETECTOR_SIZE, LANDMARKER_SIZE, build_detector, build_landmarker

log = logging.getLogger(__name__)

MIN_DETECTION_SCORE = 0.5  # mediapipe's min_detection_confidence
MIN_PRESENCE = 0.5  # mediapipe's min_tracking_confidence
NMS_IOU = 0.3
ROI_SCALE = 1.25
ALL_LANDMARKS = 39  # 33 body landmarks + 6 auxiliary ones (33 and 34 place the region)
BODY_LANDMARKS = 33
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5
FRAME_RATE = 1e6 / 33333  # mediapipe's solutions API stamps frames 33333 us apart, whatever the video's rate
SAME_PERSON = 0.25  # two regions whose centres are closer than this (x their side) hold the same person
LINK_DISTANCE = 0.5  # a person moves less than this (x the region's side) from one analysed frame to the next


def ssd_anchors() -> np.ndarray:
    """(2254, 2) float32: the detector's anchor centres (x, y), 0-1 of its input.

    MediaPipe's SsdAnchorsCalculator with the pose detector's options (5 layers, strides 8, 16, 32, 32, 32,
    aspect ratio 1 plus the interpolated scale, fixed anchor size): every anchor is 1x1, so only centres
    matter; layers of the same stride share cells.
    """
    strides = (8, 16, 32, 32, 32)
    centres = []
    layer = 0
    while layer < len(strides):
        same = sum(1 for s in strides[layer:] if s == strides[layer])
        cells = math.ceil(DETECTOR_SIZE / strides[layer])
        grid = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs, ys], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(cell_centres, 2 * same, axis=1).reshape(-1, 2))
        layer += same
    return np.concatenate(centres).astype(np.float32)


def normalize_radians(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped into [-pi, pi)."""
    return angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi))


def region_from_points(centre: np.ndarray, scale_point: np.ndarray) -> np.ndarray:
    """(K, 4) float64 regions (cx, cy, side, rotation) from (K, 2) centre and scale points in pixels.

    MediaPipe's AlignmentPointsRects: centred on `centre`, side twice the distance to `scale_point`,
    rotated so that the scale point is straight above the centre; then enlarged by ROI_SCALE.
    """
    d = np.asarray(scale_point, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    side = 2.0 * np.hypot(d[:, 0], d[:, 1]) * ROI_SCALE
    rotation = normalize_radians(np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0]))
    return np.column_stack([centre[:, 0], centre[:, 1], side, rotation])


def crop_grid(regions: torch.Tensor, size: int, width: int, height: int) -> torch.Tensor:
    """(K, size, size, 2) float32 sampling grid (grid_sample, align_corners=True) that cuts each region out.

    regions: (K, 4) float32 (cx, cy, side, rotation) in pixels of a width x height frame. As MediaPipe's
    warpPerspective does, the region's corners map to the output's corners, so output pixel j samples
    the region at j / size of its side.
    """
    steps = torch.arange(size, device=regions.device, dtype=torch.float32) / size - 0.5
    cx, cy, side, rot = (regions[:, k].view(-1, 1, 1) for k in range(4))
    u, v = steps.view(1, 1, size) * side, steps.view(1, size, 1) * side
    cos, sin = torch.cos(rot), torch.sin(rot)
    x = cx + cos * u - sin * v
    y = cy + sin * u + cos * v
    return torch.stack([2 * x / max(width - 1, 1) - 1, 2 * y / max(height - 1, 1) - 1], dim=-1)


def weighted_nms(detections: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """MediaPipe's weighted non-maximum suppression.

    detections: (K, 13) float64: score, box (xmin, ymin, xmax, ymax), 4 keypoints (x, y). Returns (k, 13):
    for each kept detection, the score-weighted mean of the boxes and keypoints overlapping it by more than
    `iou`, with its own score.
    """
    order = np.argsort(-detections[:, 0], kind="stable")
    remaining = detections[order]
    kept = []
    while len(remaining):
        top = remaining[0]
        overlap = _iou(top[1:5], remaining[:, 1:5])
        close = overlap > iou
        group = remaining[close]
        merged = top.copy()
        if len(group):
            weights = group[:, 0:1]
            merged[1:] = (group[:, 1:] * weights).sum(axis=0) / weights.sum()
        kept.append(merged)
        if close.sum() == 0:  # a degenerate box overlaps nothing, itself included: stop, as MediaPipe does
            break
        remaining = remaining[~close]
    return np.array(kept, dtype=np.float64).reshape(-1, detections.shape[1])


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass
class FramePeople:
    """The people found in one frame.

    landmarks: (P, 39, 5) float64: x, y in pixels of the frame, z (pixels, relative), visibility 0-1,
        presence 0-1 (sigmoids of the model's logits); rows 33-38 are the auxiliary landmarks.
    presence: (P,) float64 0-1, the model's confidence that a body is in the region.
    regions: (P, 4) float64, the region each person's landmarks were found in.
    """

    landmarks: np.ndarray
    presence: np.ndarray
    regions: np.ndarray

    @classmethod
    def empty(cls) -> FramePeople:
        return cls(np.zeros((0, ALL_LANDMARKS, 5)), np.zeros(0), np.zeros((0, 4)))


class BlazePose:
    """The two networks on one torch device, and the steps that use them (one instance per thread).

    device: "cpu", "cuda", "cuda:1"...; half: run the networks in float16 (default: on CUDA).
    batch: at most this many crops go through a network at once.
    """

    def __init__(self, device: str = "cpu", half: bool | None = None, batch: int = 64) -> None:
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if (cuda if half is None else half) else torch.float32
        self.memory_format = torch.channels_last
        self.batch = max(1, batch)
        self.detector = build_detector().to(self.device, self.dtype)
        self.landmarker = build_landmarker().to(self.device, self.dtype)
        self.anchors = torch.from_numpy(ssd_anchors()).to(self.device)

    # --- the steps ---------------------------------------------------------------------------------------
    def frames_to_device(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """(N, H, W, 3) uint8 RGB frames (one size) -> (N, 3, H, W) float32 0-255 on the device."""
        batch = torch.from_numpy(np.stack(frames))
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        return batch.permute(0, 3, 1, 2).float()

    def _run(self, network: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
        """A network over (K, 3, S, S) float32 images in chunks of `batch`; outputs concatenated, float32."""
        outputs: list[list[torch.Tensor]] = []
        with torch.inference_mode():
            for k in range(0, len(images), self.batch):
                chunk = images[k : k + self.batch].to(self.dtype).contiguous(memory_format=self.memory_format)
                outputs.append([o.float() for o in network(chunk, channels_last=False)])
        return [torch.cat(parts) for parts in zip(*outputs, strict=True)]

    def detect(self, frames: torch.Tensor) -> list[np.ndarray]:
        """The people the detector sees in each frame.

        frames: (N, 3, H, W) float32 0-255 on the device. Returns per frame (k, 13) float64: score, box
        (xmin, ymin, xmax, ymax) and 4 keypoints (x, y) in pixels, after weighted non-maximum suppression.
        """
        n, _, height, width = frames.shape
        side = float(max(width, height))
        letterbox = torch.tensor([[width / 2, height / 2, side, 0.0]], device=frames.device)
        grid = crop_grid(letterbox, DETECTOR_SIZE, width, height).expand(n, -1, -1, -1)
        with torch.inference_mode():
            images = F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            regressors, logits = self._run(self.detector, images / 127.5 - 1.0)
            scores = torch.sigmoid(logits[..., 0].clamp(-100.0, 100.0))
            frame_of, anchor_of = torch.nonzero(scores >= MIN_DETECTION_SCORE, as_tuple=True)
            raw = regressors[frame_of, anchor_of] / DETECTOR_SIZE  # (k, 12), fractions of the input
            anchor = self.anchors[anchor_of]  # box centre and the 4 keypoints are relative to it; w, h are not
            decoded = raw + torch.cat([anchor, torch.zeros_like(anchor), anchor.repeat(1, 4)], dim=1)
            picked = torch.cat([scores[frame_of, anchor_of, None], decoded], dim=1).cpu().numpy().astype(np.float64)
        frame_index = frame_of.cpu().numpy()
        out = []
        for i in range(n):
            rows = picked[frame_index == i]
            boxes = np.empty((len(rows), 13))
            boxes[:, 0] = rows[:, 0]
            xc, yc, w, h = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
            boxes[:, 1:5] = np.column_stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2])
            boxes[:, 5:] = rows[:, 5:]
            kept = weighted_nms(boxes)
            # Letterbox removal: fractions of the padded square -> pixels of the frame.
            kept[:, 1::2] = kept[:, 1::2] * side + (width - side) / 2
            kept[:, 2::2] = kept[:, 2::2] * side + (height - side) / 2
            out.append(kept)
        return out

    def landmarks(self, frames: torch.Tensor, frame_index: np.ndarray, regions: np.ndarray) -> FramePeople:
        """The landmark model on regions of frames.

        frames: (N, 3, H, W) float32 0-255 on the device; frame_index: (K,) int, the frame of each region;
        regions: (K, 4) float64. Returns the K results (presence not yet thresholded), landmarks in pixels.
        """
        k = len(regions)
        if k == 0:
            return FramePeople.empty()
        _, _, height, width = frames.shape
        with torch.inference_mode():
            boxes = torch.as_tensor(regions, dtype=torch.float32, device=frames.device)
            grid = crop_grid(boxes, LANDMARKER_SIZE, width, height)
            index = torch.as_tensor(frame_index, dtype=torch.long, device=frames.device)
            crops = F.grid_sample(frames[index], grid, mode="bilinear", padding_mode="border", align_corners=True)
            raw, presence, heatmap = self._run(self.landmarker, crops / 255.0)
            raw = raw.view(k, ALL_LANDMARKS, 5)
            xy = raw[..., :2] / LANDMARKER_SIZE
            xy = refine_with_heatmap(xy, heatmap)
            side = boxes[:, 2].view(k, 1)
            cos, sin = torch.cos(boxes[:, 3]).view(k, 1), torch.sin(boxes[:, 3]).view(k, 1)
            u, v = (xy[..., 0] - 0.5) * side, (xy[..., 1] - 0.5) * side
            out = torch.stack(
                [
                    boxes[:, 0:1] + cos * u - sin * v,
                    boxes[:, 1:2] + sin * u + cos * v,
                    raw[..., 2] / LANDMARKER_SIZE * side,
                    torch.sigmoid(raw[..., 3]),
                    torch.sigmoid(raw[..., 4]),
                ],
                dim=-1,
            )
            return FramePeople(
                out.cpu().numpy().astype(np.float64), presence[:, 0].cpu().numpy().astype(np.float64), regions
            )

    def step(self, frames: Sequence[np.ndarray], streams: Sequence[Stream]) -> list[FramePeople]:
        """Everyone in the next frame of each of several streams, as MediaPipe's tracking does it for one
        person: each stream crops where its people were in its previous frame; the detector (run on every
        frame) adds anyone not already followed.

        frames: (H, W, 3) uint8 RGB, one size, one per stream. Updates each stream's regions.
        """
        if not frames:
            return []
        images = self.frames_to_device(frames)
        detections = self.detect(images)
        index, regions = [], []
        for i, (stream, found) in enumerate(zip(streams, detections, strict=True)):
            new = region_from_points(found[:, 5:7], found[:, 7:9])
            mine = np.concatenate([stream.regions, new[[not stream.follows(r) for r in new]]])
            index.append(np.full(len(mine), i, dtype=np.int64))
            regions.append(mine)
        frame_of = np.concatenate(index)
        people = self.landmarks(images, frame_of, np.concatenate(regions))
        out = []
        for i, stream in enumerate(streams):
            mine = (frame_of == i) & (people.presence >= MIN_PRESENCE)
            lm = people.landmarks[mine]
            kept = deduplicate(FramePeople(lm, people.presence[mine], region_from_points(lm[:, 33, :2], lm[:, 34, :2])))
            stream.regions = kept.regions
            out.append(kept)
        return out


@dataclass
class Stream:
    """A run of consecutive frames followed as MediaPipe follows a person: `regions` (R, 4) float64 are
    where the people of its latest frame are (from their auxiliary landmarks), cropped in the next one."""

    regions: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    def follows(self, region: np.ndarray) -> bool:
        """Whether a detected region is someone this stream already follows (centres within LINK_DISTANCE of
        the larger side)."""
        if not len(self.regions):
            return False
        distance = np.hypot(*(self.regions[:, :2] - region[:2]).T)
        return bool((distance < LINK_DISTANCE * np.maximum(self.regions[:, 2], region[2])).any())


def refine_with_heatmap(xy: torch.Tensor, heatmap: torch.Tensor) -> torch.Tensor:
    """MediaPipe's RefineLandmarksFromHeatmap (kernel 7, minimum confidence 0.5), batched.

    xy: (K, L, 2) float32 landmark positions, 0-1 of the crop; heatmap: (K, h, w, L) float32 logits.
    Each landmark moves to the confidence-weighted mean of the 7x7 heatmap cells around it when the
    highest confidence there is at least 0.5. (MediaPipe truncates positions toward zero and checks the
    column twice instead of the row's upper bound; both kept, so results agree at the edges too.)
    """
    k, size_h, size_w, n = heatmap.shape
    col = torch.trunc(xy[..., 0] * size_w).long()
    row = torch.trunc(xy[..., 1] * size_h).long()
    inside = (col >= 0) & (col < size_w) & (row >= 0) & (col < size_h)
    offsets = torch.arange(HEATMAP_KERNEL, device=xy.device) - (HEATMAP_KERNEL - 1) // 2
    rows = row[..., None] + offsets  # (K, L, 7)
    cols = col[..., None] + offsets
    valid = ((rows >= 0) & (rows < size_h))[..., :, None] & ((cols >= 0) & (cols < size_w))[..., None, :]
    cells = rows.clamp(0, size_h - 1)[..., :, None] * size_w + cols.clamp(0, size_w - 1)[..., None, :]
    confidence = torch.sigmoid(heatmap).permute(0, 3, 1, 2).reshape(k, n, size_h * size_w)
    weights = confidence.gather(2, cells.reshape(k, n, -1)).view(k, n, HEATMAP_KERNEL, HEATMAP_KERNEL) * valid
    total = weights.sum(dim=(2, 3))
    peak = weights.amax(dim=(2, 3))
    safe = total.clamp_min(1e-12)
    mean_col = (weights * cols[..., None, :]).sum(dim=(2, 3)) / safe / size_w
    mean_row = (weights * rows[..., :, None]).sum(dim=(2, 3)) / safe / size_h
    refine = inside & (peak >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    return torch.stack([torch.where(refine, mean_col, xy[..., 0]), torch.where(refine, mean_row, xy[..., 1])], -1)


def deduplicate(people: FramePeople) -> FramePeople:
    """Keep one of several results for the same body (regions centred within SAME_PERSON of each other's
    side), the most confident."""
    if len(people.presence) < 2:
        return people
    order = np.argsort(-people.presence, kind="stable")
    kept: list[int] = []
    for i in order:
        c, side = people.regions[i, :2], people.regions[i, 2]
        if all(np.hypot(*(c - people.regions[j, :2])) > SAME_PERSON * max(side, people.regions[j, 2]) for j in kept):
            kept.append(int(i))
    kept.sort()
    return FramePeople(people.landmarks[kept], people.presence[kept], people.regions[kept])


# --- following and smoothing people over time ----------------------------------------------------------------


def link_people(frames: Sequence[FramePeople]) -> list[np.ndarray]:
    """Per frame, (P,) int track ids: a person continues a track of the previous frame when their region's
    centre moved less than LINK_DISTANCE of its side and its size changed by less than 1.6x (nearest pairs
    first); anyone else starts a new track. A person missed in one frame starts again."""
    ids: list[np.ndarray] = []
    next_id = 0
    previous = np.zeros((0, 4))
    previous_ids = np.zeros(0, dtype=np.int64)
    for people in frames:
        current = people.regions
        mine = np.full(len(current), -1, dtype=np.int64)
        pairs = []
        for a in range(len(previous)):
            for b in range(len(current)):
                distance = float(np.hypot(*(current[b, :2] - previous[a, :2]))) / max(previous[a, 2], 1e-6)
                ratio = current[b, 2] / max(previous[a, 2], 1e-6)
                if distance < LINK_DISTANCE and 1 / 1.6 < ratio < 1.6:
                    pairs.append((distance, a, b))
        used: set[int] = set()
        for _, a, b in sorted(pairs):
            if a not in used and mine[b] < 0:
                used.add(a)
                mine[b] = previous_ids[a]
        for b in np.flatnonzero(mine < 0):
            mine[b] = next_id
            next_id += 1
        ids.append(mine)
        previous, previous_ids = current, mine
    return ids


class OneEuroFilter:
    """MediaPipe's OneEuroFilter on an array of values at once (every value filtered separately).

    min_cutoff, beta, derivate_cutoff: the filter's parameters; frequency: samples per second.
    """

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float, frequency: float = FRAME_RATE):
        self.min_cutoff, self.beta, self.derivate_cutoff, self.frequency = min_cutoff, beta, derivate_cutoff, frequency
        self.raw: np.ndarray | None = None
        self.value: np.ndarray | None = None
        self.derivative: np.ndarray | None = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray:
        tau = 1.0 / (2 * np.pi * np.asarray(cutoff, dtype=np.float64))
        return 1.0 / (1.0 + tau * self.frequency)

    def __call__(self, value: np.ndarray, value_scale: float) -> np.ndarray:
        if self.raw is None or self.value is None or self.derivative is None:
            self.raw, self.value, self.derivative = value.copy(), value.copy(), np.zeros_like(value)
            return value.copy()
        change = (value - self.raw) * value_scale * self.frequency
        a = self._alpha(self.derivate_cutoff)
        self.derivative = a * change + (1 - a) * self.derivative
        alpha = self._alpha(self.min_cutoff + self.beta * np.abs(self.derivative))
        self.value = alpha * value + (1 - alpha) * self.value
        self.raw = value.copy()
        return self.value.copy()


def smooth_people(frames: Sequence[FramePeople]) -> list[np.ndarray]:
    """Each person's body landmarks smoothed over time as mediapipe does (`smooth_landmarks=True`).

    Returns per frame (P, 33, 3) float64: x, y in pixels, visibility 0-1 (same people, same order).
    Positions: one-euro filter (min cutoff 0.05, beta 80, derivative cutoff 1) with the velocity scaled by
    the body's size (the side of the unscaled region of its auxiliary landmarks); visibility: low-pass
    filter (alpha 0.1). A track that skips a frame starts its filters again.
    """
    ids = link_people(frames)
    filters: dict[int, tuple[OneEuroFilter, list[np.ndarray]]] = {}
    out = []
    for people, track_ids in zip(frames, ids, strict=True):
        live: dict[int, tuple[OneEuroFilter, list[np.ndarray]]] = {}
        smoothed = np.zeros((len(track_ids), BODY_LANDMARKS, 3))
        for p, track in enumerate(track_ids):
            lm = people.landmarks[p]
            state = filters.get(int(track))
            if state is None:
                state = (OneEuroFilter(0.05, 80.0, 1.0), [])
            position_filter, visibility = state
            scale = 2.0 * float(np.hypot(*(lm[34, :2] - lm[33, :2])))
            xy = lm[:BODY_LANDMARKS, :2]
            smoothed[p, :, :2] = position_filter(xy, 1.0 / scale) if scale > 1e-6 else xy
            vis = lm[:BODY_LANDMARKS, 3]
            if visibility:
                vis = 0.1 * vis + 0.9 * visibility[0]
            smoothed[p, :, 2] = vis
            live[int(track)] = (position_filter, [vis])
        filters = live
        out.append(smoothed)
    return out
