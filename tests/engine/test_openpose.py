"""OpenPose --write_json directories: lossless round trip, several people, the CLI on directories."""

from __future__ import annotations

import json

import numpy as np

from engine import openpose
from engine.sequence import PoseSequence
from tests.engine.cli_runner import dancescore


def test_round_trip_is_lossless(tmp_path, squat_ref):
    seq = PoseSequence(
        squat_ref.times.copy(), squat_ref.keypoints.copy(), squat_ref.present.copy(), squat_ref.frame_size, "test", 7.0
    )
    seq.present[5] = False
    seq.keypoints[5] = 0
    openpose.write_directory(seq, tmp_path, name="squat")
    back = openpose.read_directory(tmp_path)
    assert np.array_equal(back.keypoints, seq.keypoints)
    assert np.array_equal(back.times, seq.times)
    assert np.array_equal(back.present, seq.present)
    assert back.frame_size == seq.frame_size


def test_files_are_in_openpose_format(tmp_path, squat_ref):
    files = openpose.write_directory(squat_ref, tmp_path, name="clip")
    assert files[0].name == "clip_000000000000_keypoints.json"
    data = json.loads(files[3].read_text())
    (person,) = data["people"]
    assert len(person["pose_keypoints_2d"]) == 75
    assert person["pose_keypoints_2d"][:3] == [float(v) for v in squat_ref.keypoints[3, 0]]


def test_plain_openpose_output_uses_the_given_frame_rate(tmp_path, squat_ref):
    openpose.write_directory(squat_ref, tmp_path, name="clip")
    (tmp_path / openpose.SIDECAR).unlink()  # what OpenPose itself writes: no timestamps
    seq = openpose.read_directory(tmp_path, fps=25.0)
    assert np.allclose(seq.times[:3], [0, 0.04, 0.08])


def write_people(folder, frames: list[list[np.ndarray]]) -> None:
    folder.mkdir(exist_ok=True)
    for i, people in enumerate(frames):
        doc = {"version": 1.3, "people": [{"pose_keypoints_2d": p.reshape(-1).tolist()} for p in people]}
        (folder / f"x_{i:012d}_keypoints.json").write_text(json.dumps(doc))


def test_the_main_dancer_is_followed_and_a_bystander_never_takes_over(tmp_path, squat_ref):
    """A large bystander walks through the frame in front of the camera: the dancer is kept throughout."""
    n = 90
    dancer = squat_ref.keypoints[:n]
    frames = []
    for i in range(n):
        people = [dancer[i]]
        if 30 <= i < 60:
            walker = dancer[0].copy()
            walker[:, 0] = walker[:, 0] * 1.4 - 600 + (i - 30) * 40  # bigger, crossing left to right
            walker[:, 1] = walker[:, 1] * 1.4 - 150
            people.insert(0, walker)
        frames.append(people)
    write_people(tmp_path / "poses", frames)
    seq = openpose.read_directory(tmp_path / "poses")
    assert seq.present.all()
    assert np.array_equal(seq.keypoints, dancer)


def test_frames_without_the_dancer_are_counted_not_zero_filled(tmp_path, squat_ref):
    frames = [[squat_ref.keypoints[i]] if not 10 <= i < 20 else [] for i in range(60)]
    write_people(tmp_path / "poses", frames)
    seq = openpose.read_directory(tmp_path / "poses")
    assert seq.frames_with_dancer == 50
    assert not seq.present[10:20].any()


def test_compare_accepts_openpose_directories(tmp_path, squat_ref, squat_zoomed):
    openpose.write_directory(squat_ref, tmp_path / "ref", name="ref")
    openpose.write_directory(squat_zoomed, tmp_path / "att", name="att")
    for sidecar in (tmp_path / "ref" / openpose.SIDECAR, tmp_path / "att" / openpose.SIDECAR):
        sidecar.unlink()
    run = dancescore("compare", tmp_path / "ref", tmp_path / "att", "--json", "--ref-fps", "30", "--attempt-fps", "30")
    assert run.code == 0, run.stderr
    result = run.json()
    required = {"score", "form", "timing", "parts", "mirrored", "offset_s", "tempo", "weak_moments", "feedback",
                "frames", "backend", "seconds"}  # fmt: skip
    assert required <= set(result)
    assert result["score"] >= 9.0 and abs(result["offset_s"] + 0.3) <= 0.1
    assert set(result["parts"]) == {"arms", "legs", "torso", "head"}
    assert result["backend"] == "openpose-json"
    assert result["frames"]["attempt"] == {"analysed": 204, "with_dancer": 204}
    assert {"decode", "pose", "align", "score", "total"} <= set(result["seconds"])
    assert run.stdout.count("\n") == 1  # exactly one JSON object


def test_readable_report(tmp_path, squat_ref):
    openpose.write_directory(squat_ref, tmp_path / "ref", name="ref")
    run = dancescore("compare", tmp_path / "ref", tmp_path / "ref")
    assert run.code == 0
    assert run.stdout.startswith("Score 10.0 / 10")
