"""`dancescore bot`: runs the platforms whose tokens are configured, side by side in one asyncio loop.

Each library is started by hand (discord.py: login + connect; python-telegram-bot: initialize, start,
start_polling), never with their own `run()`, so both share the loop. Alongside them run the challenge
clock (closes challenges at their deadline), per platform the announcer that posts closed challenges'
results where they started, and the upkeep (attempts that waited for the database, retention of clips).

On start the process takes its data directory (one bot per directory), removes the uploads and ends the
jobs a predecessor left when it died, and tells those users to send their video again. One platform that
cannot start, or stops, never stops the other; the exit status is then 1. On SIGTERM or SIGINT: new work
is refused with a message, running jobs get `grace_s` to finish (then are cancelled and their users told),
then both platforms disconnect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.bootstrap import Services, bootstrap
from bot.config import ConfigError, Settings
from bot.core.errors import StorageError
from bot.core.models import Announcement, LostJob
from bot.core.service import CommunityService
from bot.errors import StartError
from bot.logs import redact
from bot.ops import OpsServer
from bot.pictures import draw_results, scratch
from bot.recovery import DataDirLock, Notify, sweep_work, tell_lost_users
from bot.replies import describe_announcement

logger = logging.getLogger(__name__)

NO_TOKEN_MESSAGE = (
    "No chat platform configured: set DISCORD_TOKEN and/or TELEGRAM_TOKEN (in the environment or in .env). "
    "The README explains how to create each bot."
)
CAPTION_LIMIT = 1024  # characters of a Telegram media caption
UPKEEP_EVERY_S = 30.0  # how often attempts that waited for the database are retried
PRUNE_EVERY_S = 6 * 3600.0  # how often clips and cards past their retention are deleted
Post = Callable[[Announcement], Awaitable[None]]


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
    lost: Sequence[LostJob] = (),
) -> list[str]:
    """Run the configured platforms until `stop` is set (or SIGTERM / SIGINT arrives), then shut down.

    Returns the platforms that failed (could not start, or stopped by themselves) while the others went on;
    raises StartError when none could start. `lost` are jobs a dead predecessor left: their users are told.
    """
    platforms = platforms_of(settings)
    if not platforms:
        raise SystemExit(NO_TOKEN_MESSAGE)
    redact(settings.secrets())  # before any library can log a URL that carries a token
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    telegram_app: Any = None
    discord_bot: Any = None
    failures: dict[str, str] = {}
    gateways: dict[asyncio.Task[None], str] = {}  # a platform's own task: its end means it stopped
    background: list[asyncio.Task[Any]] = []
    notifiers: dict[str, Notify] = {}
    core = services.community
    try:
        if settings.telegram_token:
            try:
                telegram_app = await start_telegram(settings, services)
            except Exception as error:
                failures["telegram"] = describe_start_failure("Telegram", error)
            else:
                notifiers["telegram"] = telegram_notifier(telegram_app)
                post = telegram_poster(telegram_app, services)
                background.append(asyncio.create_task(announce(core, "telegram", post, stop, announce_every_s)))
        if settings.discord_token:
            try:
                discord_bot, gateway = await start_discord(settings.discord_token.reveal(), services)
            except Exception as error:
                failures["discord"] = describe_start_failure("Discord", error)
            else:
                gateways[gateway] = "discord"
                notifiers["discord"] = discord_notifier(discord_bot)
                post = discord_poster(discord_bot)
                background.append(asyncio.create_task(announce(core, "discord", post, stop, announce_every_s)))
        if len(failures) == len(platforms):
            raise StartError("\n".join(failures.values()))
        for message in failures.values():
            logger.error("%s The other platform keeps running.", message)
        background.append(asyncio.create_task(core.run_challenge_clock(stop)))
        background.append(asyncio.create_task(upkeep(core, stop, settings.retention_days)))
        await tell_lost_users(lost, notifiers)
        logger.info("DanceScore running on %s", " and ".join(p for p in platforms if p not in failures))
        await watch(gateways, stop, failures, telegram_running=telegram_app is not None)
        stop.set()
        logger.info("shutting down: no new jobs; up to %.0f s for the running ones", grace_s)
        await services.workload.close(grace_s)
    finally:
        stop.set()
        if telegram_app is not None:
            await stop_telegram(telegram_app)
        if discord_bot is not None:
            await discord_bot.close()
        for task in (*background, *gateways):
            task.cancel()
        await asyncio.gather(*background, *gateways, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        logger.info("DanceScore stopped")
    return sorted(failures)


async def watch(
    gateways: dict[asyncio.Task[None], str], stop: asyncio.Event, failures: dict[str, str], *, telegram_running: bool
) -> None:
    """Wait for `stop`; a platform task that ends meanwhile is a failure of that platform alone, unless no
    platform is left running."""
    stopped = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Future[Any]] = {stopped, *gateways}
    try:
        while True:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if stopped in done:
                return
            for task in done:
                name = gateways.pop(task)  # type: ignore[call-overload]
                error = None if task.cancelled() else task.exception()
                failures[name] = f"{name.capitalize()} stopped: {describe_error(error)}"
                left = telegram_running or bool(gateways)
                logger.error("%s%s", failures[name], "; the other platform keeps running." if left else ".")
            if not telegram_running and not gateways:
                return
    finally:
        stopped.cancel()


def describe_start_failure(platform: str, error: Exception) -> str:
    """The line that says why a platform did not start: a StartError's own words; anything else is a bug,
    logged with its traceback."""
    if isinstance(error, StartError):
        return str(error)
    logger.error("%s could not start", platform, exc_info=error)
    return f"{platform} could not start: {describe_error(error)}"


def describe_error(error: BaseException | None) -> str:
    """One line for an operator: the error's own words, without its traceback."""
    if error is None:
        return "it ended without an error"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


async def upkeep(core: CommunityService, stop: asyncio.Event, retention_days: float | None) -> None:
    """Until `stop`: record attempts that waited for the database, and delete clips and cards past their
    retention (on start, then every `PRUNE_EVERY_S`)."""
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while not stop.is_set():
        try:
            saved = await core.save_pending()
            if saved:
                logger.info("recorded %d attempt(s) that waited for the database", saved)
            if retention_days is not None and loop.time() >= next_prune:
                deleted = await core.prune_media(retention_days)
                logger.info("retention: deleted %d clip(s) and card(s) older than %g days", deleted, retention_days)
                next_prune = loop.time() + PRUNE_EVERY_S
        except StorageError as error:
            logger.warning("upkeep waits for the database: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=UPKEEP_EVERY_S)


async def start_telegram(settings: Settings, services: Services) -> Any:
    from telegram.error import InvalidToken, NetworkError

    from bot.telegram.handlers import MENU, build_application

    assert settings.telegram_token is not None
    application = build_application(settings.telegram_token.reveal(), settings.telegram_api_url, services)
    try:
        await application.initialize()
        await application.start()
        await application.bot.set_my_commands(MENU)
        assert application.updater is not None
        await application.updater.start_polling()
    except InvalidToken as error:
        await stop_telegram(application)
        raise StartError("Telegram refused TELEGRAM_TOKEN: copy the token @BotFather gave you.") from error
    except NetworkError as error:
        await stop_telegram(application)
        raise StartError(
            f"Could not reach the Telegram Bot API at {settings.telegram_api_url} ({error}); "
            "check TELEGRAM_API_URL and the network."
        ) from error
    return application


async def stop_telegram(application: Any) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    with contextlib.suppress(Exception):
        await application.shutdown()


def telegram_poster(application: Any, services: Services) -> Post:
    """Posts a closed challenge's results in its chat as one album: the final board as a podium, captioned
    with the results, then the winners' score cards."""
    from telegram import InputMediaPhoto

    async def post(announcement: Announcement) -> None:
        if announcement.challenge.channel is None:
            return
        chat_id = int(announcement.challenge.channel)
        text = describe_announcement(announcement)
        cards = await services.community.find_winner_cards(announcement)
        with scratch(services.flow.work_dir) as folder:
            podium = await draw_results(announcement, folder)
            if len(text) > CAPTION_LIMIT:
                await application.bot.send_message(chat_id, text)
                text = ""
            if not cards:  # an album has 2 to 10 items: the podium alone is a photo
                await application.bot.send_photo(chat_id, podium.read_bytes(), caption=text or None)
                return
            media = [InputMediaPhoto(podium.read_bytes(), caption=text or None)]
            media += [InputMediaPhoto(card.read_bytes()) for card in cards]
            await application.bot.send_media_group(chat_id, media)

    return post


def telegram_notifier(application: Any) -> Notify:
    """Edits the status message of a job (`{"chat_id", "message_id"}`); a new message if it cannot."""
    from telegram.error import TelegramError

    async def notify(notice: dict[str, Any], text: str) -> None:
        chat_id = int(notice["chat_id"])
        try:
            await application.bot.edit_message_text(text, chat_id=chat_id, message_id=int(notice["message_id"]))
        except TelegramError:
            await application.bot.send_message(chat_id, text)

    return notify


async def start_discord(token: str, services: Services) -> tuple[Any, asyncio.Task[None]]:
    import aiohttp
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
    except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as error:
        await client.close()
        raise StartError(f"Could not reach Discord ({describe_error(error)}); check the network.") from error
    return client, asyncio.create_task(client.connect(reconnect=True), name="discord gateway")


def discord_poster(client: Any) -> Post:
    """Posts a closed challenge's results in its channel: the text, the final board as a podium and the
    winners' score cards, in one message (pinging nobody: the client's allowed mentions)."""
    import discord

    services: Services = client.services

    async def post(announcement: Announcement) -> None:
        if announcement.challenge.channel is None:
            return
        await client.wait_until_ready()
        channel_id = int(announcement.challenge.channel)
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        cards = await services.community.find_winner_cards(announcement)
        with scratch(services.flow.work_dir) as folder:
            podium = await draw_results(announcement, folder)
            files = [discord.File(podium, "results.png")]
            files += [discord.File(card, f"winner-{i}.png") for i, card in enumerate(cards, start=1)]
            await channel.send(describe_announcement(announcement), files=files)

    return post


def discord_notifier(client: Any) -> Notify:
    """Writes in the job's channel, mentioning its user (`{"channel_id", "user_id"}`): the interaction that
    showed its progress died with the process."""
    import discord

    async def notify(notice: dict[str, Any], text: str) -> None:
        await client.wait_until_ready()
        channel_id = int(notice["channel_id"])
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        mention = discord.AllowedMentions(users=True, everyone=False, roles=False)
        await channel.send(f"<@{int(notice['user_id'])}> {text}", allowed_mentions=mention)

    return notify


async def announce(core: CommunityService, platform: str, post: Post, stop: asyncio.Event, every_s: float) -> None:
    """Post closed challenges' results on `platform`, each once (claimed, posted, then confirmed)."""
    claimer = f"{platform}-{uuid.uuid4().hex[:8]}"
    while not stop.is_set():
        try:
            await announce_once(core, platform, post, claimer)
        except StorageError as error:
            logger.warning("posting challenge results on %s waits for the database (%s)", platform, error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


async def announce_once(core: CommunityService, platform: str, post: Post, claimer: str) -> int:
    """Claim and post what is due on `platform`; returns how many were posted. A post that fails (the bot
    may no longer write in that channel, say) is tried again later, a bounded number of times, then given up
    and logged (`CommunityService.fail_announcement`); it never holds up the others."""
    posted = 0
    for announcement in await core.claim_announcements(platform, claimer):
        try:
            await post(announcement)
        except Exception as error:
            await core.fail_announcement(announcement, claimer, error)
            continue
        await core.confirm_announcement(announcement, claimer)
        posted += 1
    return posted


async def run(
    settings: Settings, *, grace_s: float = 60.0, stop: asyncio.Event | None = None, **fakes: Any
) -> list[str]:
    """Take the data directory, build everything (`bot.bootstrap`, with `fakes`: pool, engine...), recover
    what a dead predecessor left, start the engine pool and /healthz and /metrics, then serve.

    Returns the platforms that failed while the others ran (see `serve`).
    """
    with DataDirLock(settings.data_dir):
        sweep_work(settings.work_dir)
        async with bootstrap(settings, **fakes) as services:
            await services.community.save_pending()
            lost = await services.community.recover_lost_jobs()
            ops = OpsServer(services.pool, services.database, port=settings.ops_port) if settings.ops_port else None
            if ops is not None:
                try:
                    await ops.start()
                except OSError as error:
                    if error.errno != errno.EADDRINUSE:
                        raise
                    raise StartError(
                        f"Port {settings.ops_port} on 127.0.0.1 (for /healthz and /metrics) is already in use: set "
                        "DANCESCORE_OPS_PORT to a free port, or to off."
                    ) from None
            try:
                if services.pool is not None:
                    await services.pool.start()  # before the bots connect: the first job finds its models loaded
                return await serve(settings, services, stop, grace_s=grace_s, lost=lost)
            finally:
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


def start(args: argparse.Namespace, **fakes: Any) -> int:
    """`dancescore bot`: read the settings, then serve until SIGTERM. Returns the exit status: 0 after a
    clean run, 1 when something could not start or a platform failed, 2 for a bad setting.

    What stops it is said in one line on stderr, without a traceback.
    """
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
    redact(settings.secrets())
    try:
        failed = asyncio.run(run(settings, grace_s=args.grace, **fakes))
    except StartError as error:
        print(error, file=sys.stderr)
        return 1
    except StorageError as error:
        print(
            f"Cannot start: {error}. Check DANCESCORE_DB_URL and that the database server is running.",
            file=sys.stderr,
        )
        return 1
    return 1 if failed else 0
