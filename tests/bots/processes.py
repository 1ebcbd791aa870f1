"""The bot as a process of its own (`tests/fakes/bot_process.py`, the real runner with the scripted engine),
for the tests that kill it, restart it and read its whole log."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.core.models import Caller, CommunityRef
from bot.gateways.scripted import ScriptedEngine, write_clip

REPO = Path(__file__).resolve().parents[2]
MOD = Caller("telegram", "5", "Mo", is_moderator=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bot_environment(folder: Path, api_url: str, token: str, **extra: str) -> dict[str, str]:
    """The environment of a bot whose data lives in `folder/data`, polling the fake Bot API at `api_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DANCESCORE_", "DISCORD_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(REPO),
        DANCESCORE_DATA_DIR=str(folder / "data"),
        TELEGRAM_TOKEN=token,
        TELEGRAM_API_URL=api_url,
        DANCESCORE_OPS_PORT=str(free_port()),
    )
    env.update(extra)
    return env


async def add_dance(env: dict[str, str], where: CommunityRef, name: str) -> None:
    """Register a dance in the bot's database, as a moderator would before the bot runs."""
    settings = Settings.from_env(env, env_file=None)
    reference = Path(env["DANCESCORE_DATA_DIR"]) / f"{name}-reference.mp4"
    reference.parent.mkdir(parents=True, exist_ok=True)
    write_clip(reference, frames=16)
    async with bootstrap(settings, engine=ScriptedEngine()) as services:
        await services.community.add_dance(MOD, where, name, reference)


class BotProcess:
    """`python -m tests.fakes.bot_process ARGS` with `env`, its stdout and stderr (the log) in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.env = env
        self.log_path = log_path
        self.args = args
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> BotProcess:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.fakes.bot_process", *self.args,
                cwd=self.log_path.parent, env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    async def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.process is not None
            status = self.process.returncode
            if status is not None:
                raise AssertionError(f"the bot exited ({status}) before logging {text!r}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not log {text!r} within {timeout} s:\n{self.log()}")
            await asyncio.sleep(0.1)

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def exit_status(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)
