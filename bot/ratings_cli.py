"""`dancescore calibrate` and `dancescore rescore`: fit a calibration from members' ratings; re-score a board.

    dancescore calibrate [--community ID] [--device cpu|cuda|auto] [--folds 5] [--min-ratings 50]
    dancescore rescore --community ID [--version V] [--dance NAME]

`calibrate` prints what it learned from (ratings, members, attempts, what was left out and why), the
held-out comparison with the scorer in use (MAE, Spearman, spread), and whether it wrote a new version
(exit status 0) or why not (exit status 1). Calibrations go to `<data dir>/calibrations/`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.bootstrap import bootstrap, build_pool
from bot.community_cli import moderator, run_with_settings
from bot.config import Settings
from bot.core.calibration import CalibrationPolicy
from bot.core.errors import InvalidInputError
from bot.core.models import CommunityRef
from bot.core.ports import DanceEngine
from bot.rating_replies import describe_calibration, describe_rescore
from engine.errors import Refusal


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `calibrate` and `rescore` to the top-level command's subparsers."""
    calibrate = subparsers.add_parser("calibrate", help="fit the scorer's final mapping on members' ratings")
    calibrate.add_argument("--community", help="platform:id: one community's ratings (default: every community's)")
    calibrate.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default cpu)")
    calibrate.add_argument("--folds", type=int, default=CalibrationPolicy.folds, help="cross-validation folds")
    calibrate.add_argument(
        "--min-ratings", type=int, default=CalibrationPolicy.min_ratings, help="ratings needed (from non-dancers)"
    )
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.set_defaults(func=_entry)

    rescore = subparsers.add_parser("rescore", help="re-score a community's boards with a scorer version")
    rescore.add_argument("--community", required=True, help="platform:id")
    rescore.add_argument("--version", help="scorer version (default: the one the community uses)")
    rescore.add_argument("--dance", help="only this dance's attempts")
    rescore.set_defaults(func=_entry)


def _entry(args: argparse.Namespace) -> int:
    return run_with_settings(run, args)


async def run(
    args: argparse.Namespace, settings: Settings, *, engine: DanceEngine | None = None, out: TextIO | None = None
) -> int:
    """Run one parsed command; refusals are one line on stderr with exit status 1. Neither command scores a
    video: the engine pool is never started."""
    out = out or sys.stdout
    pool = None if engine is not None else build_pool(settings, backend="local", workers=1)
    try:
        async with bootstrap(settings, engine=engine, pool=pool) as services:
            ratings = services.community.ratings
            assert ratings is not None
            if args.command == "rescore":
                outcome = await ratings.rescore(
                    moderator(), CommunityRef.parse(args.community), args.version, args.dance
                )
                print(describe_rescore(outcome), file=out)
                return 0
            where = CommunityRef.parse(args.community) if args.community else None
            policy = CalibrationPolicy(folds=args.folds, min_ratings=args.min_ratings)
            report, current, saved = await ratings.calibrate(
                where, policy, device=choose_device(args.device), seed=args.seed
            )
            print(describe_calibration(report, current, saved, str(where) if where else "all communities"), file=out)
            if saved is not None:
                print(f"  file: {ratings.book.folder / saved.version}.json", file=out)
            return 0 if saved is not None else 1
    except Refusal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def choose_device(name: str) -> str:
    """`auto`: the first GPU when torch sees one, else the CPU. On the CPU one thread is fastest: the fit is
    hundreds of small steps, not big matrix products."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"--device {name}: torch sees no GPU here; use --device cpu.")
    if name == "cpu":
        torch.set_num_threads(1)
    return name
