"""/challenge status for everyone; /challenge start and /challenge end for moderators (Manage Server)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.core.durations import parse_duration
from bot.discord.interactions import Answer, caller_of, suggest_dances, where_of
from bot.replies import describe_challenges


class Challenges(commands.Cog):
    challenge = app_commands.Group(name="challenge", description="Dance challenges", guild_only=True)

    def __init__(self, services: Services) -> None:
        self.services = services

    @challenge.command(name="status", description="The running challenges and their standings")
    async def status(self, interaction: discord.Interaction, dance: str | None = None) -> None:
        async with Answer(interaction) as answer:
            statuses = await self.services.community.show_challenges(where_of(interaction), dance)
            await answer.send(describe_challenges(statuses))

    @challenge.command(name="start", description="Start a challenge on a dance (moderators)")
    @app_commands.describe(dance="The dance", duration="How long, e.g. 90m, 2h, 3d, 1w")
    @app_commands.default_permissions(manage_guild=True)
    async def start(self, interaction: discord.Interaction, dance: str, duration: str) -> None:
        async with Answer(interaction) as answer:
            started = await self.services.community.start_challenge(
                caller_of(interaction),
                where_of(interaction),
                dance,
                parse_duration(duration),
                channel=str(interaction.channel_id),
            )
            await answer.send(
                f"Challenge #{started.id} on “{started.dance_name}” is on until "
                f"{discord.utils.format_dt(started.ends_at)}. Use `/score` with your video!"
            )

    @challenge.command(name="end", description="End a running challenge now (moderators)")
    @app_commands.default_permissions(manage_guild=True)
    async def end(self, interaction: discord.Interaction, dance: str | None = None) -> None:
        async with Answer(interaction) as answer:
            ended = await self.services.community.end_challenge(caller_of(interaction), where_of(interaction), dance)
            await answer.send(f"Challenge #{ended.id} on “{ended.dance_name}” has ended; the results follow.")

    @start.autocomplete("dance")
    @status.autocomplete("dance")
    @end.autocomplete("dance")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)
