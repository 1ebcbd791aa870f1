"""The annotated clip: plays inline in chat apps, keeps the attempt's sound, fits the budget, draws right."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from render_media import (
    bbox,
    fill,
    frame_at,
    make_video,
    moving_box,
    panel_bbox,
    pose_sequence,
    score_result,
    top_level_boxes,
    with_joints,
)

from engine.errors import InputError, VideoError
from engine.render import render_clip
from engine.result import WeakMoment
from engine.skeleton import LIMBS, J

BLUE = (30, 60, 220)
RED = (200, 40, 40)


def render(tmp_path: Path, attempt_video: Path, attempt_size, duration, **kwargs) -> Path:
    reference_video = kwargs.pop("reference_video", None)
    reference = kwargs.pop("reference", None) or pose_sequence((320, 240), duration)
    attempt = kwargs.pop("attempt", None) or pose_sequence(attempt_size, duration)
    result = kwargs.pop("result", None) or score_result(duration)
    return render_clip(result, reference, attempt, reference_video, attempt_video, tmp_path / "clip.mp4", **kwargs)


def assert_plays_inline(clip: Path, duration: float, budget: int) -> av.container.InputContainer:
    """What Discord, Telegram and browsers need: H.264 yuv420p, even size, moov first, right length."""
    assert clip.stat().st_size <= budget
    boxes = top_level_boxes(clip)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    container = av.open(str(clip))
    video = container.streams.video[0]
    assert video.codec_context.name == "h264"
    assert video.codec_context.format.name == "yuv420p"
    assert video.width % 2 == 0 and video.height % 2 == 0
    assert abs(container.duration / av.time_base - duration) <= 0.2
    return container


@pytest.mark.parametrize("audio", [None, "aac", "mp3", "opus"])
def test_clip_plays_inline_with_the_attempts_sound_exactly_when_it_had_some(tmp_path, audio):
    attempt_video = make_video(tmp_path / "attempt.mp4", (320, 240), 2.5, audio=audio)
    clip = render(tmp_path, attempt_video, (320, 240), 2.5)
    with assert_plays_inline(clip, 2.5, 8 * 2**20) as container:
        if audio is None:
            assert not container.streams.audio
        else:
            (sound,) = container.streams.audio
            assert sound.codec_context.name == "aac"
            assert abs(float(sound.duration * sound.time_base) - 2.5) <= 0.2  # in step, not cut short


def test_reference_panel_shows_the_moment_the_alignment_paired_not_the_same_clock_time(tmp_path):
    # The reference's brightness steps every second; the dancer is 1 s late, so at attempt time 2.5 s
    # the reference panel must show reference second 1.5 (level 1), not 2.5 (level 2).
    levels = (40, 100, 160, 220)

    def steps(k: int, planes: np.ndarray) -> None:
        g = levels[min(k // 30, 3)]
        fill(planes, 320, 240, (g, g, g))

    reference_video = make_video(tmp_path / "ref.mp4", (320, 240), 4.0, painter=steps)
    attempt_video = make_video(tmp_path / "att.mp4", (320, 240), 4.0, painter=moving_box(BLUE))
    none = pose_sequence((320, 240), 4.0, pose=np.zeros((25, 3), np.float32))
    clip = render(
        tmp_path, attempt_video, (320, 240), 4.0, reference_video=reference_video,
        reference=none, attempt=none, result=score_result(4.0, offset_s=1.0, weak=[]),
    )  # fmt: skip
    image = frame_at(clip, 2.5)
    h, w, _ = image.shape
    panel = image[int(h * 0.4) : int(h * 0.6), int(w * 0.1) : int(w * 0.4)].astype(float)
    assert abs(panel.mean() - levels[1]) < 15, panel.mean()


@pytest.mark.parametrize("mirrored", [False, True])
def test_skeletons_are_drawn_where_the_keypoints_are(tmp_path, mirrored):
    # One limb per dancer, pointing up and right in the source frame; nothing else seen.
    size = (320, 240)
    elbow, wrist = (80.0, 150.0), (150.0, 70.0)
    pose = with_joints(size, {J["RElbow"]: elbow, J["RWrist"]: wrist})
    attempt_video = make_video(tmp_path / "att.mp4", size, 2.0, painter=moving_box(BLUE, BLUE))
    reference_video = make_video(tmp_path / "ref.mp4", size, 2.0, painter=moving_box(RED, RED))
    clip = render(
        tmp_path, attempt_video, size, 2.0, reference_video=reference_video,
        reference=pose_sequence(size, 2.0, pose=pose), attempt=pose_sequence(size, 2.0, pose=pose),
        result=score_result(2.0, mirrored=mirrored, limb_error=0.0, weak=[]),
    )  # fmt: skip
    image = frame_at(clip, 1.0).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]

    # Attempt panel: found by its blue; the limb is drawn green (error 0).
    x0, y0, x1, y1 = panel_bbox((b > 150) & (r < 90) & (g < 110))
    scale_x, scale_y = (x1 - x0 + 1) / size[0], (y1 - y0 + 1) / size[1]
    inside = np.zeros_like(r, dtype=bool)
    inside[y0 : y1 + 1, x0 : x1 + 1] = True
    green = (g > 150) & (r < 140) & (b < 160) & inside
    ys, xs = np.nonzero(green)
    expected_x = [(size[0] - x if mirrored else x) for x in (elbow[0], wrist[0])]
    assert abs(xs.mean() - (x0 + np.mean(expected_x) * scale_x)) < 3
    assert abs(ys.mean() - (y0 + (elbow[1] + wrist[1]) / 2 * scale_y)) < 3
    # The limb's upper end (the wrist) is on the right unless mirrored.
    upper = xs[ys < np.percentile(ys, 10)].mean()
    lower = xs[ys > np.percentile(ys, 90)].mean()
    assert (upper < lower) if mirrored else (upper > lower)

    # Reference panel: found by its red; never mirrored; its skeleton is drawn in cyan.
    rx0, ry0, rx1, ry1 = panel_bbox((r > 150) & (g < 90) & (b < 90))
    inside[:] = False
    inside[ry0 : ry1 + 1, rx0 : rx1 + 1] = True
    cyan = (b > 180) & (g > 150) & (r < 150) & inside
    ys, xs = np.nonzero(cyan)
    rscale = (rx1 - rx0 + 1) / size[0]
    assert abs(xs.mean() - (rx0 + (elbow[0] + wrist[0]) / 2 * rscale)) < 3
    assert abs(ys.mean() - (ry0 + (elbow[1] + wrist[1]) / 2 * rscale)) < 3


def test_portrait_phone_clip_is_shown_upright_and_portrait(tmp_path):
    # Stored landscape 320x180 with a red mark in its top-left corner and rotation -90 (turn clockwise
    # to show): upright it is 180x320 portrait with the mark in the top-right corner.
    def marked(k: int, planes: np.ndarray) -> None:
        fill(planes, 320, 180, BLUE)
        fill(planes, 320, 180, RED, (0, 0, 60, 60))

    attempt_video = make_video(tmp_path / "att.mp4", (320, 180), 1.5, rotation=-90, painter=marked)
    nobody = np.zeros((25, 3), np.float32)
    clip = render(
        tmp_path, attempt_video, (180, 320), 1.5, reference=pose_sequence((180, 320), 1.5, pose=nobody),
        attempt=pose_sequence((180, 320), 1.5, pose=nobody), result=score_result(1.5, weak=[]),
    )  # fmt: skip
    image = frame_at(clip, 0.5).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    x0, y0, x1, y1 = panel_bbox(((b > 150) & (r < 90)) | ((r > 150) & (g < 90) & (b < 90)))
    assert (y1 - y0) > 1.5 * (x1 - x0)  # portrait panel
    mx0, my0, mx1, _ = bbox((r > 150) & (g < 90) & (b < 90))
    assert mx1 >= x1 - 2 and my0 <= y0 + 2  # the mark is at the top right
    assert mx0 > (x0 + x1) / 2


def test_reference_without_video_is_its_skeleton_on_a_plain_panel(tmp_path):
    attempt_video = make_video(tmp_path / "att.mp4", (320, 240), 1.5, painter=moving_box(BLUE, BLUE))
    clip = render(tmp_path, attempt_video, (320, 240), 1.5, reference=pose_sequence((240, 320), 1.5))
    image = frame_at(clip, 0.5).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    ax0, *_ = panel_bbox((b > 150) & (r < 90) & (g < 110))
    cyan = (b > 180) & (g > 150) & (r < 150)
    cyan[:, ax0:] = False
    assert cyan.sum() > 200  # the reference skeleton is there, left of the attempt


@pytest.mark.slow
@pytest.mark.parametrize("budget", [8 * 2**20, 2 * 2**20])
def test_a_minute_of_1080p_fits_the_budget(tmp_path, hd_minute, budget):
    clip = render_clip(
        score_result(60.0), pose_sequence((1080, 1920), 60.0), pose_sequence((1920, 1080), 60.0),
        None, hd_minute, tmp_path / "clip.mp4", budget_bytes=budget,
    )  # fmt: skip
    with assert_plays_inline(clip, 60.0, budget) as container:
        assert container.streams.audio


@pytest.fixture(scope="module")
def hd_minute(tmp_path_factory) -> Path:
    """60 s of 1080p at 30 fps with AAC sound: boxes moving over a plain background (cheap to make)."""
    path = tmp_path_factory.mktemp("hd") / "minute.mp4"
    return make_video(path, (1920, 1080), 60.0, audio="aac", painter=moving_box(BLUE, RED))


def test_missing_or_unreadable_attempt_is_a_clear_error_and_leaves_no_file(tmp_path):
    seq = pose_sequence((320, 240), 1.0)
    with pytest.raises(InputError, match="does not exist"):
        render_clip(score_result(1.0), seq, seq, None, tmp_path / "gone.mp4", tmp_path / "clip.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(VideoError, match="not a video"):
        render_clip(score_result(1.0), seq, seq, None, fake, tmp_path / "clip.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4"]


def test_a_budget_too_small_to_hold_any_clip_is_refused_with_a_reason(tmp_path):
    attempt_video = make_video(tmp_path / "att.mp4", (320, 240), 1.0)
    with pytest.raises(InputError, match="too small"):
        render(tmp_path, attempt_video, (320, 240), 1.0, budget_bytes=10_000)
    assert not (tmp_path / "clip.mp4").exists()


@pytest.mark.parametrize("mirrored", [False, True])
def test_limbs_are_coloured_by_the_error_of_the_limb_they_were_compared_with(tmp_path, mirrored):
    # Only the attempt's right forearm is seen. The reference's left forearm was far off, the rest
    # matched. Unmirrored, the right forearm was compared with the right one (green); mirrored, with
    # the left one (red).
    size = (320, 240)
    pose = with_joints(size, {J["RElbow"]: (100.0, 160.0), J["RWrist"]: (200.0, 80.0)})
    errors = np.zeros(len(LIMBS), dtype=np.float32)
    errors[[name for name, *_ in LIMBS].index("left forearm")] = 1.0
    attempt_video = make_video(tmp_path / "att.mp4", size, 1.5, painter=moving_box(BLUE, BLUE))
    clip = render(
        tmp_path, attempt_video, size, 1.5, attempt=pose_sequence(size, 1.5, pose=pose),
        reference=pose_sequence(size, 1.5, pose=np.zeros((25, 3), np.float32)),
        result=score_result(1.5, mirrored=mirrored, limb_error=errors, weak=[]),
    )  # fmt: skip
    image = frame_at(clip, 0.7).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    x0, y0, x1, y1 = panel_bbox((b > 150) & (r < 90) & (g < 110))
    panel = image[y0 : y1 + 1, x0 : x1 + 1]
    red = ((panel[..., 0] > 180) & (panel[..., 1] < 110) & (panel[..., 2] < 110)).sum()
    green = ((panel[..., 1] > 150) & (panel[..., 0] < 140) & (panel[..., 2] < 160)).sum()
    assert (red > 100 and green < 20) if mirrored else (green > 100 and red < 20), (red, green)


def test_weak_moments_are_marked_while_they_play_and_only_then(tmp_path):
    attempt_video = make_video(tmp_path / "att.mp4", (320, 240), 3.0, painter=moving_box(BLUE, BLUE))
    nobody = pose_sequence((320, 240), 3.0, pose=np.zeros((25, 3), np.float32))
    weak = [WeakMoment(1.0, 1.6, "legs", "knees too straight")]
    clip = render(tmp_path, attempt_video, (320, 240), 3.0, attempt=nobody, reference=nobody,
                  result=score_result(3.0, offset_s=0.5, weak=weak))  # fmt: skip

    def marked(t: float) -> int:
        image = frame_at(clip, t).astype(int)
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        x0, y0, x1, y1 = panel_bbox((b > 150) & (r < 90) & (g < 110))
        panel = image[max(0, y0 - 8) : y1 + 1, x0 - 8 : x1 + 8]  # not below: the timeline is there
        return int(((panel[..., 0] > 190) & (panel[..., 1] < 110) & (panel[..., 2] < 110)).sum())

    # Reference 1.0-1.6 s plays at attempt 1.5-2.1 s (the dancer is 0.5 s late).
    assert marked(1.8) > 500
    assert marked(0.8) == 0 and marked(2.6) == 0


def test_a_result_without_an_alignment_track_still_gets_a_clip(tmp_path):
    # OpenPose-only references and older cached results carry no MomentTrack: the clip falls back to the
    # constant offset, with neutral limbs and an empty timeline, instead of failing.
    attempt_video = make_video(tmp_path / "att.mp4", (320, 240), 1.5, audio="aac")
    result = score_result(1.5, offset_s=0.2)
    result.track = None
    clip = render(tmp_path, attempt_video, (320, 240), 1.5, result=result)
    with assert_plays_inline(clip, 1.5, 8 * 2**20) as container:
        assert container.streams.audio


def test_variable_frame_rate_attempt_is_shown_by_its_timestamps(tmp_path):
    # 1 s at 30 fps (dark), no frames for 0.5 s (the phone froze), then 0.5 s at 60 fps (bright).
    # Counting frames instead of reading timestamps would show the bright part half a second early.
    times = [k / 30 for k in range(30)] + [1.5 + k / 60 for k in range(31)]

    def two_parts(k: int, planes: np.ndarray) -> None:
        fill(planes, 320, 240, (60, 60, 60) if k < 30 else (200, 200, 200))

    attempt_video = make_video(tmp_path / "att.mp4", (320, 240), 2.0, painter=two_parts, times=times)
    nobody = pose_sequence((320, 240), 2.0, pose=np.zeros((25, 3), np.float32))
    clip = render(tmp_path, attempt_video, (320, 240), 2.0, attempt=nobody, reference=nobody,
                  result=score_result(2.0, weak=[]))  # fmt: skip

    def attempt_level(t: float) -> float:
        image = frame_at(clip, t)
        h, w, _ = image.shape
        return float(image[int(h * 0.4) : int(h * 0.6), int(w * 0.6) : int(w * 0.9)].mean())

    assert abs(attempt_level(1.3) - 60) < 15
    assert abs(attempt_level(1.8) - 200) < 15
    with av.open(str(clip)) as container:
        assert abs(container.duration / av.time_base - 2.0) <= 0.2
