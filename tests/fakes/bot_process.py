"""`dancescore bot` as a process of its own, with the scripted engine in place of the engine pool: what the
crash-recovery and log tests run, kill and restart. Settings come from the environment, as for the real
command; only the engine is a fake, and `--hold` makes every score wait forever (a job kept running).

    python -m tests.fakes.bot_process [--hold] [--discord-api URL] [-v|-vv]

`--discord-api` points discord.py at a fake Discord (tests/fakes/discord_api.py) instead of discord.com.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot import runner
from bot.gateways.scripted import ScriptedEngine
from bot.logs import configure_logging
from tests.fakes.discord_api import point_discord_at


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold", action="store_true", help="every score waits until the process dies")
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--discord-api", help="the base URL of a fake Discord")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args()
    if args.discord_api:
        point_discord_at(args.discord_api)
    configure_logging([logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)])
    engine = ScriptedEngine(gate=asyncio.Event() if args.hold else None)
    return runner.start(args, engine=engine)


if __name__ == "__main__":
    raise SystemExit(main())
