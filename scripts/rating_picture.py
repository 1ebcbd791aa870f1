"""Draw docs/images/rating-message.png: a result message with its rating keyboard, from what Telegram received.

    .venv/bin/python scripts/rating_picture.py [--out docs/images/rating-message.png]

It runs the real bot (python-telegram-bot, the community core on a fresh SQLite database, the real engine)
against the tests' fake Bot API server (tests/fakes/telegram_api.py): "Ana" sends the cc-by squat attempt
(tests/data/squat_zoomed_offset.mp4) captioned `/score squat`, then "Ben" presses 8 under the result. The
picture is drawn from what the server received and nothing else: the text of the bot's result message, its
inline keyboard (`reply_markup`), and the notice the bot answered Ben's press with (`answerCallbackQuery`).
The layout imitates a Telegram chat; the words, numbers and buttons are the bot's own. Takes about a minute
on 2 cores (the reference and the attempt are analysed, the clip and the card rendered).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.bootstrap import bootstrap, engine_settings  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.models import Caller, CommunityRef  # noqa: E402
from bot.telegram.handlers import build_application  # noqa: E402
from engine.palette import font  # noqa: E402
from engine.pool import InlinePool, PoolSettings  # noqa: E402
from tests.fakes.telegram_api import CallbackAnswer, FakeTelegramApi, SentMessage  # noqa: E402

CHAT = -100
TOKEN = "123456:picture-not-a-secret"
WIDTH = 760
BULLET = "•"
BACKGROUND, BUBBLE, INK, NAME, BUTTON, TOAST = "#cfdde9", "#ffffff", "#1c1c1e", "#2f80c9", "#5a7184", "#2b2b2e"


async def capture(folder: Path) -> tuple[SentMessage, CallbackAnswer]:
    """Run the bot against the fake server; return the result message and the answer to Ben's press."""
    settings = Settings(data_dir=folder, db_url=f"sqlite+aiosqlite:///{folder / 'db.sqlite'}")
    pool = InlinePool(engine_settings(settings), PoolSettings(workers=1))  # the real engine, on a thread
    async with bootstrap(settings, pool=pool) as services, FakeTelegramApi() as api:
        mod = Caller("cli", "picture", "picture script", is_moderator=True)
        reference = ROOT / "tests/data/squat_reference.mp4"
        await services.community.add_dance(mod, CommunityRef("telegram", str(CHAT)), "squat", reference)
        application = build_application(TOKEN, api.url, services)
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            attempt = (ROOT / "tests/data/squat_zoomed_offset.mp4").read_bytes()
            await api.send_video(CHAT, api.user(7, "Ana"), attempt, caption="/score squat", name="squat.mp4")
            result = await api.wait_for(lambda m: bool(m.buttons), timeout=600)
            press = await api.press_button(CHAT, result.message_id, api.user(8, "Ben"), "8")
            answer = await api.wait_for_answer(press)
            await api.wait_for(lambda m: m.method == "sendPhoto", timeout=600)  # let the reply finish
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
    return result, answer


def wrap(text: str, width: float, face: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> list[str]:
    """Lines of `text` no wider than `width` pixels in `face` (a bullet's continuation lines indented)."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = []
    for paragraph in text.splitlines():
        words, line = paragraph.split(" "), ""
        for word in words:
            candidate = f"{line} {word}" if line else word
            if line and measure.textlength(candidate, font=face) > width:
                lines.append(line)
                candidate = ("  " if paragraph.startswith(BULLET) else "") + word
            line = candidate
        lines.append(line)
    return lines


def draw(result: SentMessage, answer: CallbackAnswer, out: Path) -> None:
    """A Telegram-like chat: the bot's message bubble, its keyboard, and the notice Ben saw."""
    body, small, label = font(24), font(19), font(26)
    line_h, pad = 33, 22
    lines = wrap(result.body, WIDTH - 48 - 2 * pad, body)
    toast_lines = wrap(f"Ben sees: {answer.text}", WIDTH - 120, small)
    toast_h = 26 * len(toast_lines) + 24
    bubble_h = pad * 2 + 34 + line_h * len(lines)
    keys_h = 62 * len(result.buttons)
    height = 24 + toast_h + 24 + bubble_h + 10 + keys_h + 70
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    pen = ImageDraw.Draw(image)
    y = 24
    pen.rounded_rectangle((40, y, WIDTH - 40, y + toast_h), 14, fill=TOAST)
    for i, line in enumerate(toast_lines):
        pen.text((60, y + 12 + 26 * i), line, font=small, fill="#ffffff")
    y += toast_h + 24
    pen.rounded_rectangle((24, y, WIDTH - 24, y + bubble_h), 18, fill=BUBBLE)
    pen.text((24 + pad, y + pad), "DanceScore", font=body, fill=NAME)
    for i, line in enumerate(lines):
        top, left = y + pad + 34 + line_h * i, 24 + pad
        if line.startswith(BULLET):  # the built-in font has no bullet glyph: draw the dot
            pen.ellipse((left + 3, top + 11, left + 11, top + 19), fill=INK)
        if line.startswith((BULLET, "  ")):
            line, left = line.removeprefix(BULLET).strip(), left + 22
        pen.text((left, top), line, font=body, fill=INK)
    y += bubble_h + 10
    for row in result.buttons:
        width = (WIDTH - 48 - 8 * (len(row) - 1)) / len(row)
        for j, text in enumerate(row):
            left = 24 + j * (width + 8)
            pen.rounded_rectangle((left, y, left + width, y + 54), 12, fill=BUTTON)
            box = pen.textbbox((0, 0), text, font=label)
            pen.text((left + (width - box[2]) / 2, y + (54 - box[3]) / 2 - 2), text, font=label, fill="#ffffff")
        y += 62
    note = "Drawn by scripts/rating_picture.py from what the fake Bot API server received."
    pen.text((24, y + 22), note, font=small, fill="#44505c")
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/rating-message.png")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        result, answer = asyncio.run(capture(Path(folder)))
    draw(result, answer, args.out)
    print(result.body)
    print("buttons:", result.buttons)
    print("answer to Ben:", answer.text)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
