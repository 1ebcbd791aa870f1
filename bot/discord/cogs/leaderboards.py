"""/leaderboard [dance] [period] and /me."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.discord.interactions import Answer, caller_of, suggest_dances, where_of
from bot.replies import describe_leaderboard, describe_profile


class Leaderboards(commands.Cog):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="leaderboard", description="The best scores of this server")
    @app_commands.describe(dance="One dance (leave empty for the overall board)", period="Which attempts count")
    @app_commands.guild_only()
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        dance: str | None = None,
        period: Literal["all", "season", "challenge"] = "all",
    ) -> None:
        async with Answer(interaction) as answer:
            board = await self.services.community.show_leaderboard(
                where_of(interaction), dance, period, viewer=caller_of(interaction)
            )
            await answer.send(describe_leaderboard(board))

    @leaderboard.autocomplete("dance")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)

    @app_commands.command(name="me", description="Your scores and ranks on this server")
    @app_commands.guild_only()
    async def me(self, interaction: discord.Interaction) -> None:
        async with Answer(interaction, public=False) as answer:
            profile = await self.services.community.show_profile(caller_of(interaction), where_of(interaction))
            await answer.send(describe_profile(profile), ephemeral=True)
