"""The Discord client: a commands.Bot whose setup_hook adds one cog per feature and syncs slash commands."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import CoreError
from bot.errors import GENERIC_FAILURE, describe_failure
from bot.services import Services
from engine.errors import EngineError

logger = logging.getLogger(__name__)


class DanceScoreBot(commands.Bot):
    """Slash commands only: it needs no privileged intent (no message content, no member list)."""

    def __init__(self, services: Services, *, sync_commands: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = False
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.services = services
        self.sync_commands = sync_commands
        self.tree.on_error = self.on_app_command_error

    async def setup_hook(self) -> None:
        from bot.discord.cogs.challenges import Challenges
        from bot.discord.cogs.dances import Dances
        from bot.discord.cogs.help import Help
        from bot.discord.cogs.leaderboards import Leaderboards
        from bot.discord.cogs.ratings import Ratings
        from bot.discord.cogs.scoring import Scoring
        from bot.discord.rating_menu import RatingSelect

        shared = self.services
        for cog in (Scoring(shared), Dances(shared), Leaderboards(shared), Challenges(shared), Ratings(shared), Help()):
            await self.add_cog(cog)
        self.add_dynamic_items(RatingSelect)  # the rating menus of every result, sent before a restart too
        if self.sync_commands:
            synced = await self.tree.sync()
            logger.info("synced %d slash commands", len(synced))

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Log first, then show the user a sentence: a refusal's own message, or a generic apology."""
        original = getattr(error, "original", error)
        message = describe_failure(original)
        if message == GENERIC_FAILURE:
            logger.error(
                "slash command /%s failed",
                interaction.command and interaction.command.name,
                exc_info=original,
            )
        await reply(interaction, message, ephemeral=True)


@contextlib.asynccontextmanager
async def refusals(interaction: discord.Interaction) -> AsyncIterator[None]:
    """Answers a refusal (CoreError, EngineError) with its sentence; anything else goes on to on_error."""
    try:
        yield
    except (CoreError, EngineError) as error:
        await reply(interaction, str(error), ephemeral=True)


async def reply(interaction: discord.Interaction, content: str, *, ephemeral: bool = False) -> None:
    """Answer an interaction whether or not it was deferred (after a defer, the first follow-up edits it)."""
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=content)
        else:
            await interaction.response.send_message(content, ephemeral=ephemeral)
    except discord.HTTPException:
        logger.warning("could not answer an interaction", exc_info=True)
