"""/dances for everyone; /dance add and /dance remove for moderators (the Manage Server permission).

The commands are hidden from members by their default permissions, and the core refuses a caller without
Manage Server anyway (server admins can re-grant a command to anyone).
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.core.errors import NotModeratorError
from bot.discord.interactions import Answer, answering, caller_of, limits_of, suggest_dances, upload_of, where_of

logger = logging.getLogger(__name__)


class Dances(commands.Cog):
    dance = app_commands.Group(
        name="dance",
        description="Register or remove the dances of this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="dances", description="The dances of this server")
    @app_commands.guild_only()
    async def dances(self, interaction: discord.Interaction) -> None:
        async with Answer(interaction) as answer:
            dances = await self.services.community.list_dances(where_of(interaction))
            if dances:
                await answer.send("Dances here: " + ", ".join(d.name for d in dances))
            else:
                await answer.send("No dances yet. A moderator can add one with `/dance add`.", ephemeral=True)

    @dance.command(name="add", description="Register a dance from its reference video")
    @app_commands.describe(name="The dance's name", video="The reference video")
    async def add(self, interaction: discord.Interaction, name: str, video: discord.Attachment) -> None:
        async with answering(interaction):
            caller = caller_of(interaction)
            if not caller.is_moderator:  # refused before anything is downloaded
                raise NotModeratorError("register dances")
            upload = upload_of(video)
            self.services.flow.check_upload(upload, limits_of(interaction, self.services))
            await interaction.response.defer(thinking=True)
            async with self.services.workload.job(), self.services.flow.downloaded(upload) as path:
                added = await self.services.community.add_dance(caller, where_of(interaction), name, path)
            await interaction.edit_original_response(
                content=f"Added the dance “{added.name}”. Try it: `/score dance:{added.name}`"
            )

    @dance.command(name="remove", description="Remove a dance of this server")
    @app_commands.describe(name="The dance to remove")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        async with Answer(interaction) as answer:
            removed = await self.services.community.remove_dance(caller_of(interaction), where_of(interaction), name)
            await answer.send(f"Removed the dance “{removed.name}”.")

    @remove.autocomplete("name")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)
