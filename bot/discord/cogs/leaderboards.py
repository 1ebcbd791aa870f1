"""/leaderboard [dance] [period] and /me."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.discord.interactions import answering, caller_of, suggest_dances, where_of
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
        async with answering(interaction):
            board = await self.services.community.show_leaderboard(where_of(interaction), dance, period)
            await interaction.response.send_message(describe_leaderboard(board))

    @leaderboard.autocomplete("dance")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)

    @app_commands.command(name="me", description="Your scores and ranks on this server")
    @app_commands.guild_only()
    async def me(self, interaction: discord.Interaction) -> None:
        profile = await self.services.community.show_profile(caller_of(interaction), where_of(interaction))
        await interaction.response.send_message(describe_profile(profile), ephemeral=True)
