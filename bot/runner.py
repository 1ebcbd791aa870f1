"""`dancescore bot`: runs the platforms whose tokens are configured, side by side in one asyncio loop.

Each library is started by hand (discord.py: login + connect; python-telegram-bot: initialize, start,
start_polling), never with their own `run()`, so both share the loop. On SIGTERM or SIGINT: new work is
refused with a message, running jobs get `grace_s` to finish (then are cancelled and their users told),
then both platforms disconnect and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.services import Services

logger = logging.getLogger(__name__)

NO_TOKEN_MESSAGE = (
    "No chat platform configured: set DISCORD_TOKEN and/or TELEGRAM_TOKEN (in the environment or .env). "
    "The README explains how to create each bot."
)


@dataclass(frozen=True)
class PlatformSettings:
    """Which platforms to run. Tokens never appear in repr or logs."""

    discord_token: str | None = field(default=None, repr=False)
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str | None = None  # a self-hosted Bot API server, e.g. http://127.0.0.1:8081
    grace_s: float = 60.0  # how long running jobs may finish after SIGTERM

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PlatformSettings:
        return cls(
            discord_token=environ.get("DISCORD_TOKEN") or None,
            telegram_token=environ.get("TELEGRAM_TOKEN") or None,
            telegram_api_url=environ.get("TELEGRAM_API_URL") or None,
            grace_s=float(environ.get("DANCESCORE_SHUTDOWN_GRACE_S") or 60.0),
        )

    @property
    def platforms(self) -> list[str]:
        return [name for name, token in (("discord", self.discord_token), ("telegram", self.telegram_token)) if token]


class NoPlatformError(SystemExit):
    def __init__(self) -> None:
        super().__init__(NO_TOKEN_MESSAGE)


async def run(settings: PlatformSettings, services: Services, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or SIGTERM / SIGINT arrives), then shut down cleanly."""
    if not settings.platforms:
        raise NoPlatformError()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    telegram_app: Any = None
    discord_bot: Any = None
    discord_task: asyncio.Task[None] | None = None
    try:
        if settings.telegram_token:
            telegram_app = await start_telegram(settings, services)
        if settings.discord_token:
            discord_bot, discord_task = await start_discord(settings.discord_token, services)
        logger.info("DanceScore running on %s", " and ".join(settings.platforms))
        waits = [asyncio.ensure_future(stop.wait())] + ([discord_task] if discord_task else [])
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if discord_task in done and discord_task is not None and discord_task.exception() is not None:
            logger.error("the Discord connection failed", exc_info=discord_task.exception())
        for wait in waits:
            if wait is not discord_task:
                wait.cancel()
        logger.info("shutting down: no new jobs; waiting up to %.0f s for running ones", settings.grace_s)
        await services.close(settings.grace_s)
    finally:
        if telegram_app is not None:
            await stop_telegram(telegram_app)
        if discord_bot is not None:
            await discord_bot.close()
        if discord_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await discord_task
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        logger.info("DanceScore stopped")


async def start_telegram(settings: PlatformSettings, services: Services) -> Any:
    from bot.telegram.handlers import build_application

    assert settings.telegram_token is not None
    application = build_application(settings.telegram_token, settings.telegram_api_url, services)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(drop_pending_updates=False)
    return application


async def stop_telegram(application: Any) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


async def start_discord(token: str, services: Services) -> tuple[Any, asyncio.Task[None]]:
    from bot.discord.bot import DanceScoreBot

    client = DanceScoreBot(services)
    await client.login(token)  # also runs setup_hook (cogs, command sync)
    return client, asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")


def main(environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `dancescore bot` (and `python -m bot`)."""
    import os

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = PlatformSettings.from_environ(os.environ if environ is None else environ)
    if not settings.platforms:
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        return 2
    from bot.wiring import build_services

    services = build_services(os.environ if environ is None else environ)
    asyncio.run(run(settings, services))
    return 0
