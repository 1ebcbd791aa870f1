"""/help: what the bot does and how to use it."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

HELP = (
    "I score how well you replicate a dance, from 1 to 10, and show you what to work on.\n"
    "• `/score dance:<name> video:<file>`: score your video against a dance of this server\n"
    "• `/dances`: the dances of this server\n"
    "• `/leaderboard [dance] [period]`: the best scores here (all time, this season, the challenge)\n"
    "• `/challenge status`: the running challenges · `/me`: your scores and ranks; "
    "`/me dance:<name>`: your progress at a dance, as a chart\n"
    "• `/help`: this message\n"
    "Under each result, members rate the attempt from 1 to 10 (your own rating is kept but not counted).\n"
    "Moderators (Manage Server): `/dance add name:<name> video:<reference>`, `/dance remove name:<name>`,\n"
    "`/challenge start dance:<name> duration:<e.g. 3d>`, `/challenge end`, `/rate` (the members' ratings),\n"
    "`/scorer status`, `/scorer use version:<v>`, `/scorer rescore` (which scorer version makes the scores)."
)


class Help(commands.Cog):
    @app_commands.command(name="help", description="How to use DanceScore")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(HELP, ephemeral=True)
