"""/dances for everyone; /dance add and /dance remove for moderators (the Manage Server permission)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.bot import refusals
from bot.discord.cogs.scoring import community_of, dancer_of, suggest_dances, upload_of
from bot.errors import NotModeratorError
from bot.scoring import PlatformLimits
from bot.services import Services

logger = logging.getLogger(__name__)


def require_moderator(interaction: discord.Interaction) -> None:
    """Server admins can re-grant a command to anyone: check the permission, not only its visibility."""
    if not interaction.permissions.manage_guild:
        raise NotModeratorError("Only moderators (the Manage Server permission) can do that.")


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
        names = await self.services.community.list_dances(community_of(interaction))
        if names:
            await interaction.response.send_message("Dances here: " + ", ".join(names))
        else:
            await interaction.response.send_message(
                "No dances yet. A moderator can add one with `/dance add`.", ephemeral=True
            )

    @dance.command(name="add", description="Register a dance from its reference video")
    @app_commands.describe(name="The dance's name", video="The reference video")
    async def add(self, interaction: discord.Interaction, name: str, video: discord.Attachment) -> None:
        require_moderator(interaction)
        await interaction.response.defer(thinking=True)
        upload = upload_of(video)
        flow = self.services.flow
        flow.check_upload(
            upload, PlatformLimits("discord", flow.limits.max_bytes, interaction.filesize_limit)
        )
        async with self.services.workload.job():
            added = await self.services.community.add_dance(
                community_of(interaction), name, upload, added_by=dancer_of(interaction)
            )
        await interaction.edit_original_response(
            content=f"Added the dance “{added}”. Try it: `/score {added}`"
        )

    @dance.command(name="remove", description="Remove a dance of this server")
    @app_commands.describe(name="The dance to remove")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        async with refusals(interaction):
            require_moderator(interaction)
            await self.services.community.remove_dance(community_of(interaction), name)
            await interaction.response.send_message(f"Removed the dance “{name}”.")

    @remove.autocomplete("name")
    async def dance_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)
