"""`dancescore bot`: runs the platforms whose tokens are configured, side by side in one asyncio loop.

Each library is started by hand (discord.py: login + connect; python-telegram-bot: initialize, start,
start_polling), never with their own `run()`, so both share the loop. Alongside them run the challenge
clock (closes challenges at their deadline) and, per platform, the announcer that posts closed
challenges' results where they started. On SIGTERM or SIGINT: new work is refused with a message, running
jobs get `grace_s` to finish (then are cancelled and their users told), then both platforms disconnect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.core.models import Announcement
from bot.core.service import CommunityService
from bot.replies import describe_announcement
from bot.services import Services, build_services

logger = logging.getLogger(__name__)

NO_TOKEN_MESSAGE = (
    "No chat platform configured: set DISCORD_TOKEN and/or TELEGRAM_TOKEN (in the environment or in .env). "
    "The README explains how to create each bot."
)
Post = Callable[[Announcement], Awaitable[None]]


class StartError(Exception):
    """A platform could not be started (bad token, server unreachable); the message says what to fix."""


def platforms_of(settings: Settings) -> list[str]:
    return [
        name for name, token in (("discord", settings.discord_token), ("telegram", settings.telegram_token)) if token
    ]


async def serve(
    settings: Settings,
    services: Services,
    stop: asyncio.Event | None = None,
    *,
    grace_s: float = 60.0,
    announce_every_s: float = 15.0,
) -> None:
    """Run the configured platforms until `stop` is set (or SIGTERM / SIGINT arrives), then shut down."""
    platforms = platforms_of(settings)
    if not platforms:
        raise SystemExit(NO_TOKEN_MESSAGE)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    telegram_app: Any = None
    discord_bot: Any = None
    background: list[asyncio.Task[Any]] = []
    core = services.community
    try:
        if settings.telegram_token:
            telegram_app = await start_telegram(settings, services)
            post = telegram_poster(telegram_app)
            background.append(asyncio.create_task(announce(core, "telegram", post, stop, announce_every_s)))
        if settings.discord_token:
            discord_bot, gateway = await start_discord(settings.discord_token.reveal(), services)
            background.append(gateway)
            post = discord_poster(discord_bot)
            background.append(asyncio.create_task(announce(core, "discord", post, stop, announce_every_s)))
        background.append(asyncio.create_task(core.run_challenge_clock(stop)))
        logger.info("DanceScore running on %s", " and ".join(platforms))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *background], return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stopped}:
            if not task.cancelled() and task.exception() is not None:
                logger.error("%s failed; shutting down", task.get_name(), exc_info=task.exception())
        stopped.cancel()
        stop.set()
        logger.info("shutting down: no new jobs; up to %.0f s for the running ones", grace_s)
        await services.workload.close(grace_s)
    finally:
        stop.set()
        if telegram_app is not None:
            await stop_telegram(telegram_app)
        if discord_bot is not None:
            await discord_bot.close()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        logger.info("DanceScore stopped")


async def start_telegram(settings: Settings, services: Services) -> Any:
    from telegram.error import InvalidToken, NetworkError

    from bot.telegram.handlers import MENU, build_application

    assert settings.telegram_token is not None
    application = build_application(settings.telegram_token.reveal(), settings.telegram_api_url, services)
    try:
        await application.initialize()
    except InvalidToken as error:
        raise StartError("Telegram refused TELEGRAM_TOKEN: copy the token @BotFather gave you.") from error
    except NetworkError as error:
        raise StartError(
            f"Could not reach the Telegram Bot API at {settings.telegram_api_url} ({error}); "
            "check TELEGRAM_API_URL and the network."
        ) from error
    await application.start()
    await application.bot.set_my_commands(MENU)
    assert application.updater is not None
    await application.updater.start_polling()
    return application


async def stop_telegram(application: Any) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


def telegram_poster(application: Any) -> Post:
    async def post(announcement: Announcement) -> None:
        if announcement.challenge.channel is None:
            return
        await application.bot.send_message(int(announcement.challenge.channel), describe_announcement(announcement))

    return post


async def start_discord(token: str, services: Services) -> tuple[Any, asyncio.Task[None]]:
    import discord

    from bot.discord.bot import DanceScoreBot

    client = DanceScoreBot(services)
    try:
        await client.login(token)  # also runs setup_hook: cogs, command sync
    except discord.LoginFailure as error:
        await client.close()
        raise StartError(
            "Discord refused DISCORD_TOKEN: reset the token on your application's Bot tab and copy it again."
        ) from error
    return client, asyncio.create_task(client.connect(reconnect=True), name="discord gateway")


def discord_poster(client: Any) -> Post:
    async def post(announcement: Announcement) -> None:
        if announcement.challenge.channel is None:
            return
        await client.wait_until_ready()
        channel_id = int(announcement.challenge.channel)
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        await channel.send(describe_announcement(announcement))

    return post


async def announce(core: CommunityService, platform: str, post: Post, stop: asyncio.Event, every_s: float) -> None:
    """Post closed challenges' results on `platform`, each once (claimed, posted, then confirmed)."""
    claimer = f"{platform}-{uuid.uuid4().hex[:8]}"
    while not stop.is_set():
        try:
            for announcement in await core.claim_announcements(platform, claimer):
                await post(announcement)
                await core.confirm_announcement(announcement, claimer)
        except Exception:
            logger.exception("posting challenge results on %s failed; retrying in %.0f s", platform, every_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


async def run(
    settings: Settings, *, grace_s: float = 60.0, pool: Any = None, stop: asyncio.Event | None = None
) -> None:
    """Start the engine pool and its /healthz and /metrics, open the community service, then serve.

    `pool` defaults to the configured backend (`DANCESCORE_ENGINE_POOL`); tests pass their own.
    """
    from bot.bootstrap import community_service
    from bot.core.ports import LocalEngine
    from bot.ops import OpsServer, PoolMetrics
    from engine.api import EngineSettings
    from engine.pool import PoolSettings, create_pool

    engine_settings = EngineSettings(
        cache_dir=Path(settings.data_dir) / "cache",
        max_duration_s=settings.limits.max_duration_s,
        max_bytes=settings.limits.max_bytes,
        pose_backend=settings.pose_backend,
    )
    if pool is None:
        options = {"address": settings.ray_address} if settings.engine_pool == "ray" and settings.ray_address else {}
        pool = create_pool(settings.engine_pool, engine_settings, PoolSettings(workers=settings.workers), **options)
    ops = OpsServer(pool, PoolMetrics(pool), port=settings.ops_port) if settings.ops_port else None
    await pool.start()  # before the bots connect: the first job finds its models loaded
    try:
        if ops is not None:
            await ops.start()
        engine = LocalEngine(engine_settings, runner=pool.submit)
        async with community_service(settings, engine=engine) as core:
            services = build_services(core, Path(settings.data_dir) / "work")
            await serve(settings, services, stop, grace_s=grace_s)
    finally:
        await pool.close(drain=False)  # serve() already gave running jobs their grace period
        if ops is not None:
            await ops.stop()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `bot` to the `dancescore` command."""
    parser = subparsers.add_parser(
        "bot", help="run the Discord and/or Telegram bot (tokens from the environment or .env)"
    )
    parser.add_argument(
        "--grace", type=float, default=60.0, help="seconds running jobs may finish after SIGTERM (default 60)"
    )
    parser.set_defaults(func=start)


def start(args: argparse.Namespace) -> int:
    """`dancescore bot`: read the settings, then serve until SIGTERM. Returns the exit status."""
    if getattr(args, "verbose", 0) == 0:
        logging.getLogger().setLevel(logging.INFO)  # a service: say what it does
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if not platforms_of(settings):
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        return 2
    try:
        asyncio.run(run(settings, grace_s=args.grace))
    except StartError as error:
        logger.error("%s", error)
        print(error, file=sys.stderr)
        return 1
    return 0


def main() -> int:
    """`python -m bot`: the same as `dancescore bot`."""
    from bot.cli import main as cli_main

    return cli_main(["bot", *sys.argv[1:]])
