"""The boards as pictures, in the style of the score card (`engine.card`: its colours and font): a leaderboard
as a podium with the rows below it and the viewer's own rank, and a member's progress at one dance as a chart.

Both are PNGs made from the core's plain data (no platform types), 1080 pixels wide, to be read on a phone.
They are drawn in the bot's process, in a thread (`asyncio.to_thread`): a few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

from bot.core.models import Announcement, DanceHistory, Leaderboard, LeaderboardEntry, Period
from engine import palette
from engine.atomic_file import atomic_path

log = logging.getLogger(__name__)

WIDTH = 1080
GOLD, SILVER, BRONZE = (240, 196, 64), (190, 198, 210), (205, 127, 50)
MEDALS = {1: GOLD, 2: SILVER, 3: BRONZE}
ROWS_BELOW = 7  # rows 4..10 under the podium


@contextlib.contextmanager
def scratch(work_dir: Path) -> Iterator[Path]:
    """A fresh folder under `work_dir` for pictures being sent; removed with them afterwards."""
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="pictures-", dir=work_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def draw_podium(board: Leaderboard, folder: Path) -> Path:
    """`render_podium` into a new file in `folder`, off the event loop."""
    return await asyncio.to_thread(render_podium, board, Path(folder) / f"board-{uuid.uuid4().hex}.png")


async def draw_results(announcement: Announcement, folder: Path) -> Path:
    """A closed challenge's final board as a podium, into a new file in `folder`."""
    challenge = announcement.challenge
    board = Leaderboard(
        announcement.community,
        challenge.dance_name,
        Period.CHALLENGE,
        f"challenge #{challenge.id}: final results",
        announcement.standings,
        challenge,
    )
    out = Path(folder) / f"results-{uuid.uuid4().hex}.png"
    return await asyncio.to_thread(render_podium, board, out, viewer_line=False)


async def draw_history(history: DanceHistory, folder: Path) -> Path:
    """`render_history` into a new file in `folder`, off the event loop."""
    return await asyncio.to_thread(render_history, history, Path(folder) / f"history-{uuid.uuid4().hex}.png")


def render_podium(board: Leaderboard, out: Path, *, viewer_line: bool = True) -> Path:
    """Draw `board` as a podium (first three), the next rows, and (`viewer_line`) the viewer's rank;
    returns `out`."""
    rows = [e for e in board.entries if e.rank > 3][:ROWS_BELOW]
    u = WIDTH / 100
    height = round(6 * u + 22 * u + 52 * u + 9 * u + 7.2 * u * len(rows) + 16 * u + 6 * u)
    image = Image.new("RGB", (WIDTH, height), palette.BACKGROUND)
    _Podium(image, board, rows, viewer_line).draw()
    return _save(image, out)


def render_history(history: DanceHistory, out: Path) -> Path:
    """Draw a member's scores at one dance, attempt by attempt, with their best and rank; returns `out`."""
    image = Image.new("RGB", (WIDTH, 760), palette.BACKGROUND)
    _Chart(image, history).draw()
    return _save(image, out)


def _save(image: Image.Image, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        image.save(tmp, format="PNG")
    return out


class _Canvas:
    """Shared drawing helpers; `u` is one unit (1/100 of the width), as on the score card."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.draw_ = ImageDraw.Draw(image)
        self.u = image.width / 100
        self.margin = round(6 * self.u)

    def text(self, xy: tuple[float, float], text: str, size: float, fill=palette.TEXT, anchor: str = "la") -> None:
        face = palette.font(round(size * self.u))
        self.draw_.text(xy, printable(text), font=face, fill=fill, anchor=anchor)

    def fit(self, text: str, size: float, width: float) -> str:
        """`text` cut with an ellipsis to fit `width` pixels at `size`."""
        face = palette.font(round(size * self.u))
        text = printable(text)
        if self.draw_.textlength(text, font=face) <= width:
            return text
        while text and self.draw_.textlength(text + "…", font=face) > width:
            text = text[:-1]
        return text + "…"

    def header(self, title: str, subtitle: str) -> float:
        m, u = self.margin, self.u
        self.text((m, m), "DanceScore", 4.2, palette.ACCENT)
        self.text((m, m + 7 * u), self.fit(title, 6.5, self.image.width - 2 * m), 6.5)
        self.text((m, m + 15.5 * u), self.fit(subtitle, 3.4, self.image.width - 2 * m), 3.4, palette.MUTED)
        return m + 22 * u


class _Podium(_Canvas):
    def __init__(self, image: Image.Image, board: Leaderboard, rows: list[LeaderboardEntry], viewer_line: bool) -> None:
        super().__init__(image)
        self.board = board
        self.rows = rows
        self.overall = board.dance is None
        self.viewer_line = viewer_line

    def draw(self) -> None:
        what = self.board.dance or "Overall (best per dance, added up)"
        y = self.header(what, self.board.period_label)
        if not self.board.entries:
            self.text((self.margin, y + 10 * self.u), "No scores yet. Be the first!", 5, palette.MUTED)
        else:
            y = self.podium(y)
            y = self.list_rows(y)
        self.viewer()

    def shown(self, entry: LeaderboardEntry) -> str:
        return f"{entry.score:.1f}"

    def podium(self, top: float) -> float:
        u = self.u
        by_rank = {e.rank: e for e in self.board.entries if e.rank <= 3}
        floor = top + 52 * u
        width = 27 * u
        centres = {2: 23 * u, 1: 50 * u, 3: 77 * u}
        heights = {1: 26 * u, 2: 19 * u, 3: 14 * u}
        for rank in (2, 1, 3):
            x, h = centres[rank], heights[rank]
            colour = MEDALS[rank]
            block_top = floor - h
            self.draw_.rounded_rectangle(
                (x - width / 2, block_top, x + width / 2, floor), radius=2 * u, fill=palette.SURFACE
            )
            self.draw_.rectangle((x - width / 2, block_top, x + width / 2, block_top + 1.2 * u), fill=colour)
            self.text((x, floor - h / 2), str(rank), 9, colour, anchor="mm")
            entry = by_rank.get(rank)
            if entry is None:
                continue
            score_colour = palette.score_colour(min(entry.score * 10, 100) if not self.overall else 80)
            self.text((x, block_top - 3 * u), self.shown(entry), 7.5, score_colour, anchor="mb")
            name = self.fit(entry.display_name, 3.8, width + 2 * u)
            self.text((x, block_top - 13 * u), name, 3.8, palette.TEXT, anchor="mb")
            if self.overall:
                self.text((x, floor + 3 * u), f"{entry.dances} dances", 2.8, palette.MUTED, anchor="ma")
        return floor + 9 * u

    def list_rows(self, y: float) -> float:
        u, m = self.u, self.margin
        viewer = self.board.viewer
        for entry in self.rows:
            mine = viewer is not None and viewer.rank == entry.rank
            if mine:
                self.draw_.rounded_rectangle(
                    (m - 1.5 * u, y - 1 * u, self.image.width - m + 1.5 * u, y + 6 * u), radius=1.5 * u,
                    fill=palette.SURFACE,
                )  # fmt: skip
            self.text((m, y), f"{entry.rank}.", 4, palette.MUTED)
            extra = f"  ({entry.dances} dances)" if self.overall else ""
            self.text((m + 9 * u, y), self.fit(entry.display_name + extra, 4, 62 * u), 4)
            self.text((self.image.width - m, y), self.shown(entry), 4, palette.TEXT, anchor="ra")
            y += 7.2 * u
        return y

    def viewer(self) -> None:
        u, m = self.u, self.margin
        bottom = self.image.height - m
        viewer = self.board.viewer
        if not self.viewer_line:
            note = f"{len(self.board.entries)} on the board" if self.board.entries else ""
        elif viewer is None:
            note = "You are not on this board yet: send /score with your video."
        else:
            note = f"You: rank {viewer.rank} of {viewer.of} · {viewer.score:.1f}"
        self.draw_.line((m, bottom - 9 * u, self.image.width - m, bottom - 9 * u), fill=palette.SURFACE, width=3)
        self.text((m, bottom - 2 * u), note, 4.2, palette.ACCENT if viewer else palette.MUTED, anchor="ls")
        versions = {e.scorer_version or "v1" for e in self.board.entries}
        label = f"scorer {versions.pop()}" if len(versions) == 1 else "scorers mixed"
        self.text((self.image.width - m, bottom - 2 * u), label, 2.8, palette.MUTED, anchor="rs")


class _Chart(_Canvas):
    def __init__(self, image: Image.Image, history: DanceHistory) -> None:
        super().__init__(image)
        self.history = history

    def draw(self) -> None:
        u, m = self.u, self.margin
        h = self.history
        standing = h.standing
        rank = f" · rank {standing.rank} of {standing.of}" if standing else ""
        attempts = h.attempts
        best = max((a.score for a in attempts), default=None)
        count = f"{len(attempts)} attempt{'s' if len(attempts) != 1 else ''}"
        subtitle = f"{h.caller.display_name} · {count}" + (f" · best {best:.1f}{rank}" if best is not None else "")
        top = self.header(h.dance, subtitle)
        left, right = m + 7 * u, self.image.width - m
        bottom = self.image.height - m - 7 * u
        for value in (1, 4, 7, 10):  # the score axis
            y = _scale(value, bottom, top)
            self.draw_.line((left, y, right, y), fill=palette.SURFACE, width=2)
            self.text((left - 2 * u, y), str(value), 3, palette.MUTED, anchor="rm")
        if not attempts:
            self.text((left, (top + bottom) / 2), "No attempts at this dance yet.", 4.5, palette.MUTED, anchor="lm")
            return
        step = (right - left - 4 * u) / max(1, len(attempts) - 1)
        xs = [left + 2 * u + i * step for i in range(len(attempts))] if len(attempts) > 1 else [(left + right) / 2]
        points = [(x, _scale(a.score, bottom, top)) for x, a in zip(xs, attempts, strict=True)]
        if len(points) > 1:
            self.draw_.line(points, fill=palette.ACCENT, width=max(2, round(0.6 * u)), joint="curve")
        best_index = max(range(len(attempts)), key=lambda i: (attempts[i].score, -i))
        for i, ((x, y), attempt) in enumerate(zip(points, attempts, strict=True)):
            r = (1.6 if i == best_index else 1.0) * u
            colour = palette.score_colour(attempt.score * 10)
            self.draw_.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=palette.BACKGROUND, width=2)
            if i == best_index:
                self.text((x, y - 2.5 * u), f"best {attempt.score:.1f}", 3.2, GOLD, anchor="mb")
        first, last = attempts[0].submitted_at, attempts[-1].submitted_at
        self.text((points[0][0], bottom + 2.5 * u), f"{first:%d %b}", 2.8, palette.MUTED, anchor="ma")
        if len(points) > 1:
            self.text((points[-1][0], bottom + 2.5 * u), f"{last:%d %b}", 2.8, palette.MUTED, anchor="ma")
            if best_index != len(points) - 1:  # the latest, unless it is the best (labelled already)
                x, y = points[-1]
                self.text((x, y + 2.5 * u), f"{attempts[-1].score:.1f}", 3.2, palette.TEXT, anchor="ma")


def printable(text: str) -> str:
    """`text` in characters the card's font can draw: an accented letter it lacks loses its accent (é -> e),
    anything else it lacks (emoji...) becomes "·"."""
    return "".join(_printable_char(c) for c in text)


@lru_cache(maxsize=4096)
def _printable_char(char: str) -> str:
    if char.isspace() or _has_glyph(char):
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and all(_has_glyph(c) for c in base) else "·"


@lru_cache(maxsize=4096)
def _has_glyph(char: str) -> bool:
    """Whether the font draws `char` as something other than its "missing glyph" box."""
    face = palette.font(40)
    return bool(face.getmask(char).getbbox()) and bytes(face.getmask(char)) != _missing_glyph()


@lru_cache(maxsize=1)
def _missing_glyph() -> bytes:
    return bytes(palette.font(40).getmask("\U0010fffd"))


def _scale(score: float, bottom: float, top: float) -> float:
    """The y of a 1-10 score between `bottom` (1) and `top` (10), with room for labels."""
    return bottom - (min(max(score, 1.0), 10.0) - 1.0) / 9.0 * (bottom - top - 40)
