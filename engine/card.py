"""The score card: one PNG a dancer can read on a phone (score, form, timing, parts, timeline, feedback)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine import palette
from engine.atomic_file import atomic_path
from engine.errors import InputError, RenderError
from engine.result import ScoreResult
from engine.skeleton import PARTS
from engine.timecode import clock

log = logging.getLogger(__name__)

MIN_SIZE = (320, 400)
MAX_SIZE = (4096, 4096)


def render_card(result: ScoreResult, out: Path, size: tuple[int, int] = (1080, 1350)) -> Path:
    """Draw the score card of `result` as a PNG of `size` (width, height) pixels at `out`.

    The file appears only when complete. Everything scales with the width, so any size in
    MIN_SIZE..MAX_SIZE reads the same; 1080x1350 fills a phone screen in Discord and Telegram.
    """
    width, height = (int(v) for v in size)
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise InputError(
            f"a score card of {width}x{height} pixels is not possible: use between "
            f"{MIN_SIZE[0]}x{MIN_SIZE[1]} and {MAX_SIZE[0]}x{MAX_SIZE[1]}"
        )
    image = Image.new("RGB", (width, height), palette.BACKGROUND)
    _Card(image, result).draw()
    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            image.save(tmp, format="PNG", optimize=False)
    except OSError as exc:
        raise RenderError(f"the score card could not be written: {exc.strerror or exc}") from exc
    return out


class _Card:
    """Lays the card out top to bottom; `u` is one unit (1/100 of the width)."""

    def __init__(self, image: Image.Image, result: ScoreResult) -> None:
        self.image = image
        self.draw_ = ImageDraw.Draw(image)
        self.result = result
        self.u = image.width / 100
        self.margin = round(6 * self.u)
        self.y = self.margin

    def text(self, xy, text: str, size: float, fill=palette.TEXT, anchor: str = "la") -> None:
        self.draw_.text(xy, text, font=palette.font(round(size * self.u)), fill=fill, anchor=anchor)

    def draw(self) -> None:
        self.header()
        self.score()
        self.parts()
        self.timeline()
        self.feedback()
        self.footer()

    def header(self) -> None:
        self.text((self.margin, self.y), "DanceScore", 4.2, palette.ACCENT)
        self.y += round(7.5 * self.u)

    def score(self) -> None:
        r, u, m = self.result, self.u, self.margin
        colour = palette.score_colour(r.score * 10)
        value = f"{r.score:.1f}"
        room = self.image.width - 2 * m - 34 * u  # the form/timing column takes the rest
        size = 22 * u
        while size > 8 * u and (
            self.draw_.textlength(value, font=palette.font(round(size)))
            + self.draw_.textlength("/ 10", font=palette.font(round(7 * u)))
            + 2 * u
            > room
        ):
            size *= 0.93
        big = palette.font(round(size))
        self.draw_.text((m, self.y), value, font=big, fill=colour, anchor="lt")
        right = m + self.draw_.textlength(value, font=big)
        bottom = self.y + big.getbbox(value, anchor="lt")[3]
        self.text((right + 2 * u, bottom), "/ 10", 7, palette.MUTED, anchor="ls")
        # Form and timing as two stat blocks on the right.
        x = self.image.width - m - 28 * u
        for i, (label, value_) in enumerate((("form", r.form), ("timing", r.timing))):
            top = self.y + i * 10.5 * u
            self.text((x, top), label.upper(), 3.2, palette.MUTED)
            self.text((x, top + 3.8 * u), f"{value_:.0f}", 5.8, palette.score_colour(value_))
        self.y = round(bottom + 3.5 * u)
        badges = []
        if r.mirrored:
            badges.append("mirrored")
        if abs(r.tempo - 1) >= 0.05:
            badges.append(f"tempo x{r.tempo:.2f}")
        x = m
        for badge in badges:
            f = palette.font(round(3.2 * u))
            w = self.draw_.textlength(badge, font=f) + 4 * u
            self.draw_.rounded_rectangle((x, self.y, x + w, self.y + 6 * u), radius=3 * u, fill=palette.SURFACE)
            self.draw_.text((x + 2 * u, self.y + 3 * u), badge, font=f, fill=palette.TEXT, anchor="lm")
            x += w + 2 * u
        self.y += round((8.5 if badges else 2) * u)

    def parts(self) -> None:
        u, m = self.u, self.margin
        bar_x0 = m + 22 * u
        bar_x1 = self.image.width - m - 12 * u
        for part in PARTS:
            value = self.result.parts.get(part)
            mid = self.y + 3 * u
            self.text((m, mid), part.capitalize(), 4, palette.TEXT, anchor="lm")
            self.draw_.rounded_rectangle((bar_x0, mid - 1.4 * u, bar_x1, mid + 1.4 * u), radius=1.4 * u,
                                         fill=palette.SURFACE)  # fmt: skip
            if value is None or not np.isfinite(value):
                self.text((self.image.width - m, mid), "n/a", 4, palette.MUTED, anchor="rm")
            else:
                end = bar_x0 + (bar_x1 - bar_x0) * min(max(value, 0), 100) / 100
                if end > bar_x0 + 2.8 * u:
                    self.draw_.rounded_rectangle((bar_x0, mid - 1.4 * u, end, mid + 1.4 * u), radius=1.4 * u,
                                                 fill=palette.score_colour(value))  # fmt: skip
                self.text((self.image.width - m, mid), f"{value:.0f}", 4, palette.TEXT, anchor="rm")
            self.y += round(6.5 * u)
        self.y += round(1.5 * u)

    def timeline(self) -> None:
        u, m = self.u, self.margin
        track = self.result.track
        self.text((m, self.y), "MOMENT BY MOMENT", 3.2, palette.MUTED)
        self.y += round(5 * u)
        x0, x1 = m, self.image.width - m
        top, bottom = self.y, self.y + round(8 * u)
        width = int(x1 - x0)
        scores = np.full(width, np.nan)
        weak = np.zeros(width, dtype=bool)
        if track is not None and len(track.ref_times) >= 2:
            t = np.linspace(track.ref_times[0], track.ref_times[-1], width)
            scores = np.interp(t, track.ref_times, track.moment_score)
            for moment in self.result.weak_moments:
                weak |= (t >= moment.start_s) & (t <= moment.end_s)
        strip = np.empty((bottom - top, width, 3), dtype=np.uint8)
        strip[:] = palette.scores_to_rgb(scores)[None]
        band = max(2, round(1.2 * u))
        strip[-band:, weak] = palette.WEAK  # weak moments: a red band under the bar...
        strip[:-band, weak] = (strip[:-band, weak] * 0.55).astype(np.uint8)  # ...and the bar shaded
        mask = Image.new("L", (width, bottom - top), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, bottom - top - 1), radius=round(1.5 * u), fill=255)
        self.image.paste(Image.fromarray(strip), (int(x0), top), mask)
        self.y = bottom + round(2 * u)
        if track is not None and len(track.ref_times) >= 2:
            self.text((x0, self.y), clock(track.ref_times[0], tenths=True), 2.8, palette.MUTED)
            self.text((x1, self.y), clock(track.ref_times[-1], tenths=True), 2.8, palette.MUTED, anchor="ra")
        self.y += round(6.5 * u)

    def feedback(self) -> None:
        u, m = self.u, self.margin
        lines = [line for line in self.result.feedback if line.strip()][:4]
        if not lines:
            return
        f = palette.font(round(3.7 * u))
        room = self.image.width - 2 * m - 4 * u
        limit = self.image.height - self.margin - 4 * u
        for line in lines:
            wrapped = _wrap(self.draw_, line[:1].upper() + line[1:], f, room)
            needed = len(wrapped) * 5.2 * u
            if self.y + needed > limit:
                break
            self.draw_.ellipse((m, self.y + 1.2 * u, m + 1.6 * u, self.y + 2.8 * u), fill=palette.ACCENT)
            for part in wrapped:
                self.draw_.text((m + 4 * u, self.y), part, font=f, fill=palette.TEXT)
                self.y += round(5.2 * u)
            self.y += round(1.5 * u)

    def footer(self) -> None:
        note = "score 1-10 · form = body shapes · timing = in step with the reference"
        self.text((self.margin, self.image.height - self.margin), note, 2.6, palette.MUTED, anchor="ls")


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> list[str]:
    """Split `text` into lines no wider than `width` pixels (a word longer than that gets its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines
