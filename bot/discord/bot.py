"""The Discord client: a commands.Bot whose setup_hook adds one cog per feature and syncs slash commands
when their definitions changed since the last sync (a hash of them is kept in the database).

No message of ours pings anyone unless it says so (`allowed_mentions` none by default): a member named
`@everyone` on a leaderboard pings nobody; a reply posted in a channel pings the one user it answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.discord.cogs.challenges import Challenges
from bot.discord.cogs.dances import Dances
from bot.discord.cogs.help import Help
from bot.discord.cogs.leaderboards import Leaderboards
from bot.discord.cogs.ratings import Ratings
from bot.discord.cogs.scoring import Scoring
from bot.discord.interactions import NO_PINGS, describe_interaction, reply
from bot.discord.rating_menu import RatingSelect
from bot.errors import explain_failure

logger = logging.getLogger(__name__)


class DanceScoreBot(commands.Bot):
    """Slash commands only: it needs no privileged intent (no message content, no member list)."""

    def __init__(self, services: Services, *, sync_commands: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = False
        options.setdefault("allowed_mentions", NO_PINGS)
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.services = services
        self.sync_commands = sync_commands
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        shared = self.services
        for cog in (Scoring(shared), Dances(shared), Leaderboards(shared), Challenges(shared), Ratings(shared), Help()):
            await self.add_cog(cog)
        self.add_dynamic_items(RatingSelect)  # the rating menus of every result, sent before a restart too
        if self.sync_commands:
            await self.sync_if_changed()

    async def sync_if_changed(self) -> bool:
        """Sync the slash commands with Discord only when their definitions differ from the last sync (Discord
        rate-limits syncs, and a restart changes nothing); returns whether it synced."""
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        key = f"discord:commands:{self.application_id}"
        core = self.services.community
        if await core.recall(key) == digest:
            logger.info("slash commands unchanged since the last sync; not syncing")
            return False
        synced = await self.tree.sync()
        await core.remember(key, digest)
        logger.info("synced %d slash commands", len(synced))
        return True

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """What no cog answered: the one failure policy (a refusal's sentence, or a logged apology)."""
        original = getattr(error, "original", error)
        await reply(interaction, explain_failure(original, describe_interaction(interaction)), ephemeral=True)
