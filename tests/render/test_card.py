"""The score card is a PNG of the asked size that shows the result (a phone-sized picture)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from render_media import score_result

from engine import palette
from engine.card import render_card
from engine.errors import InputError


@pytest.mark.parametrize("size", [(1080, 1350), (720, 900)])
def test_card_is_a_valid_png_of_the_intended_size(tmp_path, size):
    out = render_card(score_result(20.0), tmp_path / "card.png", size=size)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == size and image.mode == "RGB"
    assert [p.name for p in tmp_path.iterdir()] == ["card.png"]


def test_card_shows_the_score_in_its_colour_and_changes_with_the_result(tmp_path):
    good, poor = score_result(20.0), score_result(20.0)
    good.score, poor.score = 9.5, 2.0
    a = np.asarray(Image.open(render_card(good, tmp_path / "good.png")))
    b = np.asarray(Image.open(render_card(poor, tmp_path / "poor.png")))
    top = slice(0, a.shape[0] // 3)
    # The big score is drawn in green for a high score and in red for a low one.
    assert (np.abs(a[top].astype(int) - palette.score_colour(95)).sum(axis=2) < 10).sum() > 2000
    assert (np.abs(b[top].astype(int) - palette.score_colour(20)).sum(axis=2) < 10).sum() > 2000


def test_card_without_a_timeline_or_feedback_still_renders(tmp_path):
    result = score_result(20.0)
    result.track, result.feedback, result.weak_moments = None, [], []
    out = render_card(result, tmp_path / "card.png", size=(540, 675))
    assert Image.open(out).size == (540, 675)


def test_an_impossible_card_size_is_refused_with_a_reason(tmp_path):
    with pytest.raises(InputError, match="not possible"):
        render_card(score_result(5.0), tmp_path / "card.png", size=(10, 10))
    assert not (tmp_path / "card.png").exists()
