"""Moderator commands for the `dancescore` console script: dances and leaderboards from a shell.

    dancescore dance add NAME VIDEO --community discord:123 [--alias A ...]
    dancescore dance list [--community ID]
    dancescore dance remove NAME --community ID
    dancescore leaderboard [--community ID] [--dance NAME] [--period all|season|challenge] [--limit N]
    dancescore prune [--days N]

`register(subparsers)` adds them; each sets `func(args) -> int` (the exit status) on its parser.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TextIO

from bot.bootstrap import bootstrap, build_pool
from bot.config import ConfigError, Settings
from bot.core.errors import InvalidInputError
from bot.core.models import Caller, CommunityRef, Leaderboard, Period
from bot.core.ports import DanceEngine
from bot.core.service import CommunityService
from engine.errors import Refusal


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `dance add|list|remove` and `leaderboard` to the top-level command's subparsers."""
    dance = subparsers.add_parser("dance", help="register, list or remove reference dances")
    dance_commands = dance.add_subparsers(dest="dance_command", required=True)

    add = dance_commands.add_parser("add", help="register a reference dance from a video")
    add.add_argument("name", help="the dance's name, e.g. renegade")
    add.add_argument("video", type=Path, help="the reference video (MP4, MOV or WebM)")
    add.add_argument("--community", required=True, help="platform:id, e.g. discord:1234567890")
    add.add_argument("--alias", action="append", default=[], help="another name for it (repeatable)")
    add.set_defaults(func=_entry)

    listing = dance_commands.add_parser("list", help="list the registered dances")
    listing.add_argument("--community", help="platform:id (default: every community)")
    listing.set_defaults(func=_entry)

    remove = dance_commands.add_parser("remove", help="retire a dance (its attempts stay in history)")
    remove.add_argument("name")
    remove.add_argument("--community", required=True, help="platform:id")
    remove.set_defaults(func=_entry)

    board = subparsers.add_parser("leaderboard", help="show a community's leaderboard")
    board.add_argument("--community", help="platform:id (may be left out when there is only one)")
    board.add_argument("--dance", help="one dance's board (default: overall)")
    board.add_argument("--period", choices=[p.value for p in Period], default=Period.ALL.value)
    board.add_argument("--limit", type=int, default=10)
    board.set_defaults(func=_entry)

    prune = subparsers.add_parser(
        "prune", help="delete rendered clips and score cards past their retention (the scores stay)"
    )
    prune.add_argument("--days", type=float, help="keep this many days (default: DANCESCORE_RETENTION_DAYS, 30)")
    prune.set_defaults(func=_entry)


def _entry(args: argparse.Namespace) -> int:
    return run_with_settings(run, args)


def run_with_settings(
    command: Callable[[argparse.Namespace, Settings], Coroutine[object, object, int]], args: argparse.Namespace
) -> int:
    """Run an operator command with the settings of the environment; a configuration error is one line on
    stderr and exit status 2."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(command(args, settings))


async def run(
    args: argparse.Namespace,
    settings: Settings,
    *,
    engine: DanceEngine | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one parsed command; refusals are printed as one line on stderr with exit status 1.

    A reference is analysed in an engine pool of one local worker process, started only if needed.
    """
    out = out or sys.stdout
    pool = None if engine is not None else build_pool(settings, backend="local", workers=1)
    try:
        async with bootstrap(settings, engine=engine, pool=pool) as services:
            service = services.community
            if getattr(args, "dance_command", None) == "add":
                await _add(service, args, out)
            elif getattr(args, "dance_command", None) == "list":
                await _list(service, args, out)
            elif getattr(args, "dance_command", None) == "remove":
                dance = await service.remove_dance(moderator(), CommunityRef.parse(args.community), args.name)
                print(f"removed “{dance.name}”", file=out)
            elif args.command == "prune":
                await _prune(service, args.days if args.days is not None else settings.retention_days, out)
            else:
                await _leaderboard(service, args, out)
    except Refusal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def moderator() -> Caller:
    """The person at the shell, as a moderator of any community."""
    name = getpass.getuser()
    return Caller("cli", name, f"{name} (CLI)", is_moderator=True)


async def _add(service: CommunityService, args: argparse.Namespace, out: TextIO) -> None:
    def progress(stage: str, fraction: float) -> None:
        print(f"\r{stage} {fraction:4.0%}", end="", file=sys.stderr, flush=True)

    dance = await service.add_dance(
        moderator(),
        CommunityRef.parse(args.community),
        args.name,
        args.video,
        aliases=args.alias,
        progress=progress,
    )
    print(file=sys.stderr)
    aliases = f" (also: {', '.join(dance.aliases)})" if dance.aliases else ""
    print(
        f"added “{dance.name}”{aliases}: {dance.duration_s:.1f} s reference, poses in {dance.pose_path}",
        file=out,
    )


async def _list(service: CommunityService, args: argparse.Namespace, out: TextIO) -> None:
    refs = [CommunityRef.parse(args.community)] if args.community else [c.ref for c in await service.list_communities()]
    for ref in refs:
        dances = await service.list_dances(ref)
        print(f"{ref}: {len(dances)} dance(s)", file=out)
        for d in dances:
            aliases = f" (also: {', '.join(d.aliases)})" if d.aliases else ""
            print(
                f"  {d.name}{aliases}  {d.duration_s:.1f} s  added by {d.added_by} {d.added_at:%Y-%m-%d}",
                file=out,
            )


async def _leaderboard(service: CommunityService, args: argparse.Namespace, out: TextIO) -> None:
    if args.community:
        ref = CommunityRef.parse(args.community)
    else:
        known = [c.ref for c in await service.list_communities()]
        if len(known) != 1:
            listed = ", ".join(str(r) for r in known) or "none yet"
            raise InvalidInputError(f"Say which community with --community (known: {listed}).")
        ref = known[0]
    board = await service.show_leaderboard(ref, args.dance, args.period, limit=args.limit)
    print(format_board(board), file=out)


async def _prune(service: CommunityService, days: float | None, out: TextIO) -> None:
    if days is None:
        raise InvalidInputError("Retention is off (DANCESCORE_RETENTION_DAYS=off); say how long to keep with --days.")
    if not days > 0:
        raise InvalidInputError("--days must be above zero.")
    deleted = await service.prune_media(days)
    print(f"deleted {deleted} clip(s) and card(s) older than {days:g} days; the scores stay", file=out)


def format_board(board: Leaderboard) -> str:
    """A leaderboard as aligned plain text."""
    title = f"{board.community} · {board.dance or 'overall'} · {board.period_label}"
    if not board.entries:
        return f"{title}\n  (no attempts yet)"
    lines = [title]
    for e in board.entries:
        extra = f"  ({e.dances} dances)" if board.dance is None else ""
        lines.append(
            f"  {e.rank:>3}. {e.display_name:<24} {e.score:6.2f}  {e.achieved_at:%Y-%m-%d %H:%M}"
            f"  {e.scorer_version or 'v1'}{extra}"
        )
    return "\n".join(lines)
