"""Every bad upload gets exit status 2, one specific line on stderr and a JSON error with its own code."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from engine.decode import DecodeReport, iter_frames, probe
from tests.engine.cli_runner import dancescore
from tests.render.render_media import make_video

REF_KEYPOINTS = Path(__file__).resolve().parents[1] / "data" / "keypoints" / "squat_reference.npz"


def refused(attempt: Path, *extra: str) -> tuple[str, str]:
    """Run compare --json against the shipped reference; return (code, message) after checking the contract."""
    run = dancescore("compare", REF_KEYPOINTS, attempt, "--json", *extra)
    assert run.code == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {run.stderr!r}"
    assert lines[0].startswith("dancescore: error: ")
    error = run.json()["error"]
    assert error["message"] in lines[0]
    return error["code"], error["message"]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path):
    code, message = refused(tmp_path / "nope.mp4")
    assert code == "missing_file" and "nope.mp4" in message


def test_zero_bytes(tmp_path):
    code, message = refused(write(tmp_path / "empty.mp4", b""))
    assert code == "empty_file" and "empty" in message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"hello, this is my dance\n" * 10, "text file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "picture"),
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n", "playlist"),
        (b"%PDF-1.7\n" + bytes(100), "PDF"),
        (bytes(range(256)) * 20, "not a video"),
    ],
    ids=["text", "png", "hls-playlist-named-mp4", "pdf", "random-bytes"],
)
def test_not_a_video(tmp_path, content, says):
    code, message = refused(write(tmp_path / "upload.mp4", content))
    assert code == "not_a_video" and says in message


def test_damaged_container(tmp_path):
    # Right magic bytes, garbage after them.
    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + np.random.default_rng(1).bytes(50_000)
    code, message = refused(write(tmp_path / "damaged.mp4", data))
    assert code == "unreadable_video" and "damaged" in message


def test_truncated_without_index(tmp_path):
    # A plain MP4 keeps its index (moov) at the end: cut it off and nothing can be read.
    video = make_video(tmp_path / "full.mp4", (320, 240), duration_s=2.0)
    data = video.read_bytes()
    code, message = refused(write(tmp_path / "cut.mp4", data[: len(data) // 2]))
    assert code == "unreadable_video" and "damaged" in message


def test_no_video_stream(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        samples = (0.2 * np.sin(np.linspace(0, 2 * np.pi * 440 * 2, 88200))).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    code, message = refused(path)
    assert code == "no_video_stream" and "no video" in message


def test_too_long(tmp_path):
    video = make_video(tmp_path / "long.mp4", (160, 120), duration_s=4.0)
    code, message = refused(video, "--max-duration", "3")
    assert code == "too_long" and "0:04" in message and "0:03" in message


def test_a_single_frame_and_a_slideshow_are_refused_for_what_they_are(tmp_path):
    one_frame = make_video(tmp_path / "one.mp4", (160, 120), duration_s=1 / 30)
    code, message = refused(one_frame)
    assert code == "too_short" and "only 0.0 s long" in message  # not "keep the whole body in frame"
    slideshow = make_video(tmp_path / "slides.mp4", (160, 120), times=[0.0, 10.0, 20.0, 30.0])  # 0.1 fps
    code, message = refused(slideshow)
    assert code == "too_sparse" and "frames a second; a dance needs at least 5" in message
    assert "cut short" not in message


def test_where_decoding_stops_in_a_truncated_file_does_not_depend_on_the_thread_count(tmp_path, data_dir):
    cut = truncated_copy(data_dir / "squat_reference.mp4", tmp_path, keep=0.6)
    info = probe(cut)
    decoded = {}
    for threads in (0, 1, 2, 4):
        report = DecodeReport()
        decoded[threads] = ([t for t, _ in iter_frames(info, fps=None, report=report, threads=threads)], report)
    times = {threads: tuple(t) for threads, (t, _) in decoded.items()}
    assert len(set(times.values())) == 1 and len(times[1]) > 100  # the same frames, whoever decodes
    assert len({r.corrupt_packets for _, r in decoded.values()}) == 1


def test_too_many_pixels_is_refused_before_decoding(tmp_path):
    video = make_video(tmp_path / "huge.mp4", (4160, 4160), duration_s=0.1, fps=10)
    code, message = refused(video)
    assert code == "too_many_pixels" and "4160x4160" in message


def test_too_large(tmp_path):
    video = make_video(tmp_path / "big.mp4", (160, 120), duration_s=1.0)
    code, message = refused(video, "--max-mb", "0.001")
    assert code == "too_large" and "MB" in message


def test_no_person_in_frame(tmp_path):
    video = make_video(tmp_path / "boxes.mp4", (320, 240), duration_s=2.0)
    code, message = refused(video)
    assert code == "no_dancer" and "no person" in message


def test_malformed_openpose_directory(tmp_path):
    folder = tmp_path / "poses"
    folder.mkdir()
    (folder / "clip_000000000000_keypoints.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}')
    code, message = refused(folder)
    assert code == "bad_keypoints" and "75" in message


def test_empty_openpose_directory(tmp_path):
    code, message = refused(tmp_path)
    assert code == "bad_keypoints" and "keypoints.json" in message


def test_every_refusal_has_its_own_message(tmp_path):
    """The messages above are distinct sentences, not one generic error."""
    messages = {
        refused(write(tmp_path / "a.mp4", b""))[1],
        refused(write(tmp_path / "b.mp4", b"text" * 50))[1],
        refused(tmp_path / "missing.mp4")[1],
        refused(make_video(tmp_path / "c.mp4", (160, 120), duration_s=2.0))[1],
    }
    assert len(messages) == 4


@pytest.mark.slow
def truncated_copy(source: Path, folder: Path, keep: float) -> Path:
    """The clip remuxed with its index first (faststart), then cut after `keep` of its bytes."""
    fast = folder / "fast.mp4"
    with av.open(str(source)) as src, av.open(str(fast), "w", options={"movflags": "+faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            dst.mux(packet)
    data = fast.read_bytes()
    return write(folder / "cut.mp4", data[: int(len(data) * keep)])


def test_truncated_clip_keeps_the_good_frames_and_says_what_was_lost(tmp_path, data_dir):
    cut = truncated_copy(data_dir / "squat_reference.mp4", tmp_path, keep=0.6)  # the last 40% cut off
    run = dancescore("compare", REF_KEYPOINTS, cut, "--json")
    assert run.code == 0, run.stderr
    result = run.json()
    assert any("cut short" in note for note in result["notes"]), result["notes"]
    assert any("cut short" in line for line in result["feedback"])
    assert result["frames"]["attempt"]["with_dancer"] > 20
    # Most of the reference is not in the cut file: the score says so.
    assert result["score"] < 9.0


def test_the_cli_never_leaves_a_partial_output(tmp_path):
    folder = tmp_path / "out"
    run = dancescore("extract", tmp_path / "missing.mp4", "-o", folder)
    assert run.code == 2
    assert not folder.exists() or not any(folder.iterdir())
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_corrupt_data_mid_file_keeps_the_good_frames_and_says_so(tmp_path, data_dir):
    data = bytearray((data_dir / "squat_reference.mp4").read_bytes())
    rng = np.random.default_rng(0)
    for offset in (len(data) // 3, len(data) // 2):
        data[offset : offset + 30_000] = rng.bytes(30_000)  # two damaged stretches inside the video data
    damaged = write(tmp_path / "damaged.mp4", bytes(data))
    run = dancescore("compare", REF_KEYPOINTS, damaged, "--json")
    assert run.code == 0, run.stderr
    result = run.json()
    assert any("damaged" in note and "skipped" in note for note in result["notes"]), result["notes"]
    assert result["frames"]["attempt"]["with_dancer"] >= 30  # the good frames were analysed
    assert result["score"] >= 7.0  # and still recognised as the same performance


def test_options_that_cannot_work_are_refused_by_name(tmp_path):
    """`--analysis-fps 0` would analyse nothing; a CUDA device on a CPU-only install would fail deep inside."""
    run = dancescore("compare", REF_KEYPOINTS, REF_KEYPOINTS, "--analysis-fps", "0")
    assert run.code == 2 and run.stderr.splitlines()[-1] == (
        "dancescore compare: error: argument --analysis-fps: must be above zero, not 0"
    )
    run = dancescore("extract", REF_KEYPOINTS, "-o", tmp_path / "out", "--fps", "-3")
    assert run.code == 2 and run.stderr.splitlines()[-1].endswith("argument --fps: must be above zero, not -3")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: --device cuda is valid here")
    run = dancescore("compare", REF_KEYPOINTS, REF_KEYPOINTS, "--device", "cuda")
    assert run.code == 2 and "Traceback" not in run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("dancescore compare: error: argument --device: cuda: this PyTorch (")
    assert last.endswith("sees no CUDA GPU; use --device cpu")
