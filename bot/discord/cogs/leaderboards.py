"""/leaderboard [dance] [period] (a podium picture with the text of the board) and /me [dance] (with a dance:
a chart of the member's progress at it)."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.discord.interactions import Answer, caller_of, suggest_dances, where_of
from bot.pictures import draw_history, draw_podium, scratch
from bot.replies import describe_history, describe_leaderboard, describe_profile


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
            with scratch(self.services.flow.work_dir) as folder:
                picture = await draw_podium(board, folder)
                await answer.send(describe_leaderboard(board), files=[picture])

    @leaderboard.autocomplete("dance")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)

    @app_commands.command(name="me", description="Your scores and ranks on this server, or your progress at a dance")
    @app_commands.describe(dance="A dance: your progress at it, as a chart")
    @app_commands.guild_only()
    async def me(self, interaction: discord.Interaction, dance: str | None = None) -> None:
        async with Answer(interaction, public=False) as answer:
            caller, where = caller_of(interaction), where_of(interaction)
            if dance is None:
                profile = await self.services.community.show_profile(caller, where)
                await answer.send(describe_profile(profile), ephemeral=True)
                return
            history = await self.services.community.show_history(caller, where, dance)
            if not history.attempts:
                await answer.send(describe_history(history), ephemeral=True)
                return
            with scratch(self.services.flow.work_dir) as folder:
                chart = await draw_history(history, folder)
                await answer.send(describe_history(history), ephemeral=True, files=[chart])

    @me.autocomplete("dance")
    async def my_dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)
