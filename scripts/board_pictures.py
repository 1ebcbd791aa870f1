"""Draw docs/images/leaderboard.png and docs/images/progress-chart.png: what the bot sends for
`/leaderboard renegade` and `/me renegade`, taken from what Telegram received.

    .venv/bin/python scripts/board_pictures.py [--out docs/images]

It runs the real bot (python-telegram-bot, the community core on a fresh SQLite database) against the tests'
fake Bot API server (tests/fakes/telegram_api.py). The scores are scripted (the tests' `ScriptedEngine`, no
video is analysed): 14 members on the renegade board, and Ana's 8 attempts over four weeks. Lou, ranked last,
asks for the leaderboard (so the picture says where Lou stands below the top ten); Ana asks `/me renegade`.
The two PNGs are the photos the bot sent, byte for byte. Takes a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.bootstrap import bootstrap  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.clock import ManualClock  # noqa: E402
from bot.core.models import Caller, CommunityRef  # noqa: E402
from bot.gateways.scripted import ScriptedEngine  # noqa: E402
from bot.telegram.handlers import build_application  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramApi  # noqa: E402

CHAT = -100
TOKEN = "123456:pictures-not-a-secret"
WHERE = CommunityRef("telegram", str(CHAT))
CROWD = [  # name, best score at renegade
    ("Maya", 9.6),
    ("Jonas", 9.2),
    ("Priya", 8.9),
    ("Tom", 8.7),
    ("Léa", 8.5),
    ("Kofi", 8.1),
    ("Sam", 7.8),
    ("Nina", 7.6),
    ("Omar", 7.2),
    ("Zoe", 6.9),
    ("Ravi", 6.4),
    ("Ivy", 5.5),
    ("Lou", 5.1),
]
ANA = [5.2, 6.1, 5.9, 6.8, 7.3, 7.0, 8.2, 8.6]  # her attempts, every 3-4 days


async def capture(folder: Path) -> tuple[bytes, bytes]:
    """Run the bot against the fake server; return the two photos it sent."""
    settings = Settings(data_dir=folder, db_url=f"sqlite+aiosqlite:///{folder / 'db.sqlite'}")
    clock = ManualClock()
    async with bootstrap(settings, engine=ScriptedEngine(), clock=clock) as services, FakeTelegramApi() as api:
        core = services.community
        reference = folder / "reference.txt"
        reference.write_text("duration=20")
        await core.add_dance(
            Caller("cli", "pictures", "pictures script", is_moderator=True), WHERE, "renegade", reference
        )
        takes = 0

        async def attempt(who: Caller, score: float) -> None:
            nonlocal takes
            takes += 1
            video = folder / f"take{takes}.txt"
            video.write_text(f"score={score} take={takes}")
            await core.submit_attempt(who, WHERE, "renegade", video)

        ana = Caller("telegram", "7", "Ana")
        for i, score in enumerate(ANA):
            await attempt(ana, score)
            for n, (name, best) in enumerate(CROWD):  # the crowd dances along, reaching its best over time
                if n % len(ANA) == i:
                    await attempt(Caller("telegram", str(100 + n), name), best)
            clock.advance(days=3 + i % 2)
        application = build_application(TOKEN, api.url, services)
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            lou = len(CROWD) - 1
            await api.send_text(CHAT, api.user(100 + lou, "Lou"), "/leaderboard renegade")
            board = await api.wait_for(lambda m: m.method == "sendPhoto")
            await api.send_text(CHAT, api.user(7, "Ana"), "/me renegade")
            chart = await api.wait_for(lambda m: m.method == "sendPhoto" and m.body.startswith("Ana ·"))
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
    logging.info("leaderboard caption:\n%s", board.body)
    logging.info("progress caption: %s", chart.body)
    return board.files["photo"][1], chart.files["photo"][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "telegram", "aiohttp", "bot", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        board, chart = asyncio.run(capture(Path(folder)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leaderboard.png").write_bytes(board)
    (args.out / "progress-chart.png").write_bytes(chart)
    logging.info("wrote %s and %s", args.out / "leaderboard.png", args.out / "progress-chart.png")


if __name__ == "__main__":
    main()
