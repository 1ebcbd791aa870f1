"""What every cog does with an interaction: read who and where from it, answer it, refuse through it.

It sits below the cogs and the client (`bot.discord.bot`), which all import it and which it imports none of
(RoboDanny keeps such helpers in a module of their own for the same reason: no import circles).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import discord
from discord import app_commands

from bot.bootstrap import Services
from bot.core.models import Caller, CommunityRef
from bot.errors import explain_failure
from bot.scoring import PlatformLimits, VideoUpload

logger = logging.getLogger(__name__)

INTERACTION_WINDOW_S = 15 * 60.0  # Discord lets a bot follow an interaction up for 15 minutes
FOLLOW_UP_MARGIN_S = 60.0  # kept free at the end of that window for the reply itself
DEFER_AFTER_S = 2.0  # an answer not ready by then is deferred (Discord wants one within 3 s)
# Discord's codes for a follow-up that can no longer be made (the interaction's token expired).
EXPIRED_CODES = {10015, 10062, 50027}
NO_PINGS = discord.AllowedMentions.none()  # what every message of ours may ping, unless it says otherwise


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
    """Bots download any attachment; uploads are capped per server (10 MiB unboosted, more with boosts): the
    smaller of what the interaction says and what the server's boost level allows."""
    upload = interaction.filesize_limit
    if interaction.guild is not None:
        upload = min(upload, interaction.guild.filesize_limit)
    return PlatformLimits("discord", services.community.limits.max_bytes, upload)


def window_left(started: float) -> float:
    """Seconds a reply to an interaction that arrived at `started` (the loop's clock) may still take."""
    elapsed = asyncio.get_running_loop().time() - started
    return INTERACTION_WINDOW_S - FOLLOW_UP_MARGIN_S - elapsed


def is_expired(error: discord.HTTPException) -> bool:
    """Whether Discord refused a follow-up because the interaction can no longer be answered."""
    return error.code in EXPIRED_CODES or isinstance(error, discord.NotFound)


async def post_in_channel(
    interaction: discord.Interaction,
    content: str,
    *,
    files: Sequence[Path] = (),
    view: discord.ui.View | None = None,
) -> None:
    """Post an answer in the interaction's channel, mentioning (and pinging) only its user: the answer for an
    interaction whose follow-up window has closed."""
    channel: Any = interaction.channel
    if channel is None:
        channel = await interaction.client.fetch_channel(interaction.channel_id or 0)
    options: dict[str, Any] = {"files": [discord.File(p) for p in files]}
    if view is not None:
        options["view"] = view
    await channel.send(
        f"{interaction.user.mention} {content}",
        allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[interaction.user]),
        **options,
    )


class Answer:
    """Answers one interaction in time: the answer is sent as soon as it is ready, and if it is not ready
    within `DEFER_AFTER_S` (a busy database, a picture to draw) the interaction is deferred first, so that
    Discord never drops it; the answer then edits the deferred message. A failure inside is answered by the
    one failure policy (`bot.errors.explain_failure`).

        async with Answer(interaction) as answer:
            await answer.send(text, files=[picture])

    `public`: whether a deferred answer is seen by everyone (else by the user alone). An answer sent before
    any defer is ephemeral when `send(ephemeral=True)` says so.
    """

    def __init__(self, interaction: discord.Interaction, *, public: bool = True) -> None:
        self.interaction = interaction
        self.public = public
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Answer:
        self._timer = asyncio.get_running_loop().create_task(self._defer_later())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        if self._timer is not None:
            self._timer.cancel()
        if error is None:
            return False
        text = explain_failure(error, describe_interaction(self.interaction))
        await self.send(text, ephemeral=True)
        return not isinstance(error, asyncio.CancelledError)

    async def _defer_later(self) -> None:
        await asyncio.sleep(DEFER_AFTER_S)
        async with self._lock:
            if not self.interaction.response.is_done():
                await self.interaction.response.defer(ephemeral=not self.public, thinking=True)

    async def send(
        self,
        content: str,
        *,
        ephemeral: bool = False,
        files: Sequence[Path] = (),
        view: discord.ui.View | None = None,
    ) -> None:
        """The answer: a response, or an edit of the deferred one (its visibility was set by the defer)."""
        if self._timer is not None:
            self._timer.cancel()
        options: dict[str, Any] = {}
        if view is not None:
            options["view"] = view
        async with self._lock:
            try:
                if self.interaction.response.is_done():
                    attachments = [discord.File(p) for p in files]
                    await self.interaction.edit_original_response(content=content, attachments=attachments, **options)
                else:
                    await self.interaction.response.send_message(
                        content, ephemeral=ephemeral, files=[discord.File(p) for p in files], **options
                    )
            except discord.HTTPException:
                logger.warning("could not answer %s", describe_interaction(self.interaction), exc_info=True)


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
    """Answer an interaction whether or not it was deferred (after a defer, the first follow-up edits it);
    one whose follow-up window has closed is answered in its channel."""
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=content)
        else:
            await interaction.response.send_message(content, ephemeral=ephemeral)
    except discord.HTTPException as error:
        if not is_expired(error):
            logger.warning("could not answer an interaction", exc_info=True)
            return
        try:
            await post_in_channel(interaction, content)
        except discord.HTTPException:
            logger.warning("could not answer an expired interaction in its channel", exc_info=True)
