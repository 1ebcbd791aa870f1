"""What every cog does with an interaction: read who and where from it, answer it, refuse through it.

It sits below the cogs and the client (`bot.discord.bot`), which all import it and which it imports none of
(RoboDanny keeps such helpers in a module of their own for the same reason: no import circles).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import discord
from discord import app_commands

from bot.bootstrap import Services
from bot.core.models import Caller, CommunityRef
from bot.errors import explain_failure
from bot.scoring import PlatformLimits, VideoUpload

logger = logging.getLogger(__name__)


def where_of(interaction: discord.Interaction) -> CommunityRef:
    return CommunityRef("discord", str(interaction.guild_id))


def caller_of(interaction: discord.Interaction) -> Caller:
    """The caller, with Discord's word on moderation: the Manage Server permission in this channel."""
    user = interaction.user
    return Caller("discord", str(user.id), user.display_name, is_moderator=interaction.permissions.manage_guild)


def upload_of(attachment: discord.Attachment) -> VideoUpload:
    async def fetch(path: Path) -> None:
        await attachment.save(path)

    return VideoUpload(attachment.filename, attachment.size, attachment.content_type, fetch)


def limits_of(interaction: discord.Interaction, services: Services) -> PlatformLimits:
    """Bots download any attachment; uploads are capped per server (10 MiB by default, more with boosts)."""
    return PlatformLimits("discord", services.community.limits.max_bytes, interaction.filesize_limit)


async def suggest_dances(
    services: Services, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Dance names of this server matching what the user typed, as autocomplete choices (25 at most)."""
    names = await services.community.suggest_dances(where_of(interaction), current)
    return [app_commands.Choice(name=name, value=name) for name in names[:25]]


def describe_interaction(interaction: discord.Interaction) -> str:
    """What was asked and where, for the log: "/score in guild 123"."""
    name = interaction.command.name if interaction.command else "an interaction"
    return f"/{name} in guild {interaction.guild_id}"


@contextlib.asynccontextmanager
async def answering(interaction: discord.Interaction, *, ephemeral: bool = True) -> AsyncIterator[None]:
    """Any failure inside is answered by the one failure policy (`bot.errors.explain_failure`); a job
    cancelled by shutdown tells its user to send it again, then ends cancelled."""
    try:
        yield
    except asyncio.CancelledError as error:
        await reply(interaction, explain_failure(error, describe_interaction(interaction)), ephemeral=ephemeral)
        raise
    except Exception as error:
        await reply(interaction, explain_failure(error, describe_interaction(interaction)), ephemeral=ephemeral)


async def reply(interaction: discord.Interaction, content: str, *, ephemeral: bool = False) -> None:
    """Answer an interaction whether or not it was deferred (after a defer, the first follow-up edits it)."""
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=content)
        else:
            await interaction.response.send_message(content, ephemeral=ephemeral)
    except discord.HTTPException:
        logger.warning("could not answer an interaction", exc_info=True)
