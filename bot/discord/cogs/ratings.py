"""/rate (the members' ratings) for moderators, and /scorer use|status|rescore (the scorer version in use).

The rating menu under each result is in `bot.discord.rating_menu`.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.core.ratings import RatingService
from bot.discord.interactions import Answer, caller_of, suggest_dances, where_of
from bot.discord.rating_menu import ratings_of
from bot.rating_replies import describe_rating_stats, describe_rescore, describe_scorer_status

logger = logging.getLogger(__name__)


class Ratings(commands.Cog):
    scorer = app_commands.Group(
        name="scorer",
        description="Which scorer version makes this server's scores",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def ratings(self) -> RatingService:
        return ratings_of(self.services)

    @app_commands.command(name="rate", description="How members rated the attempts here (moderators)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def rate(self, interaction: discord.Interaction) -> None:
        async with Answer(interaction, public=False) as answer:
            stats = await self.ratings.show_rating_stats(caller_of(interaction), where_of(interaction))
            await answer.send(describe_rating_stats(stats), ephemeral=True)

    @scorer.command(name="status", description="The scorer version in use and the ones available")
    async def status(self, interaction: discord.Interaction) -> None:
        async with Answer(interaction, public=False) as answer:
            status = await self.ratings.show_scorer(caller_of(interaction), where_of(interaction))
            await answer.send(describe_scorer_status(status), ephemeral=True)

    @scorer.command(name="use", description="Score new attempts with another scorer version")
    @app_commands.describe(version="A version from /scorer status, e.g. v1 or v1-cal2")
    async def use(self, interaction: discord.Interaction, version: str) -> None:
        async with Answer(interaction) as answer:
            status = await self.ratings.use_scorer(caller_of(interaction), where_of(interaction), version)
            await answer.send(
                f"New attempts here are now scored by {status.version}. To re-score the boards too: "
                f"`/scorer rescore`.\n" + describe_scorer_status(status)
            )

    @scorer.command(name="rescore", description="Re-score the attempts on the boards with a scorer version")
    @app_commands.describe(version="Default: the version in use", dance="Only this dance's attempts")
    async def rescore(
        self, interaction: discord.Interaction, version: str | None = None, dance: str | None = None
    ) -> None:
        async with Answer(interaction) as answer:
            outcome = await self.ratings.rescore(caller_of(interaction), where_of(interaction), version, dance)
            await answer.send(describe_rescore(outcome))

    @rescore.autocomplete("dance")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)
