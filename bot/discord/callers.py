"""Who sent an interaction and where, as the community core's plain data."""

from __future__ import annotations

import discord

from bot.core.models import Caller, CommunityRef


def where_of(interaction: discord.Interaction) -> CommunityRef:
    return CommunityRef("discord", str(interaction.guild_id))


def caller_of(interaction: discord.Interaction) -> Caller:
    """The caller, with Discord's word on moderation: the Manage Server permission in this channel."""
    user = interaction.user
    return Caller("discord", str(user.id), user.display_name, is_moderator=interaction.permissions.manage_guild)
