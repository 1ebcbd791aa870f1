"""`dancescore`: the command line. Engine commands (compare, extract) and, as they land, the community and
bot commands, all under one entry point."""

from __future__ import annotations

import argparse
import logging
import sys

from bot import community_cli, ratings_cli, runner
from bot.logs import configure_logging
from engine import cli as engine_cli
from engine.native_stderr import silence_native_stderr


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dancescore", description="Score how well a dance attempt replicates a reference dance."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    engine_cli.register(sub)
    community_cli.register(sub)
    ratings_cli.register(sub)
    runner.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose < 2:
        silence_native_stderr()  # MediaPipe's C++ warnings; -vv shows them
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    configure_logging(level)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
