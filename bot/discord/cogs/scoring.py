"""/score: a slash command with the dance (autocompleted) and the video as an attachment option.

Deferred at once (Discord wants an answer within 3 s). A job that the engine expects to outlast Discord's
15-minute follow-up window, counting its wait and its run, is refused up front; a result that can no longer
follow the interaction up (the estimate was wrong) is posted in the channel instead, mentioning its user.
The clip is rendered to fit the server's upload cap (10 MiB unboosted) together with the card.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.bootstrap import Services
from bot.discord.interactions import (
    answering,
    caller_of,
    is_expired,
    limits_of,
    post_in_channel,
    suggest_dances,
    upload_of,
    where_of,
    window_left,
)
from bot.discord.rating_menu import rating_view
from bot.rating_replies import describe_rating_prompt
from bot.scoring import ScoreRequest

logger = logging.getLogger(__name__)


class Scoring(commands.Cog):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="score", description="Score your dance video against a dance of this server")
    @app_commands.describe(dance="The dance you performed", video="Your video (MP4, MOV or WebM)")
    @app_commands.guild_only()
    async def score(self, interaction: discord.Interaction, dance: str, video: discord.Attachment) -> None:
        started = asyncio.get_running_loop().time()
        await interaction.response.defer(thinking=True)  # Discord wants an answer within 3 s

        async def report(text: str) -> None:
            await interaction.edit_original_response(content=text)

        limits = limits_of(interaction, self.services)
        notice = {"channel_id": str(interaction.channel_id), "user_id": str(interaction.user.id)}
        request = ScoreRequest(
            where_of(interaction),
            caller_of(interaction),
            dance,
            upload_of(video),
            limits,
            notice,
            finish_within_s=window_left(started),
        )
        async with (
            answering(interaction, ephemeral=False),
            self.services.workload.job(),
            self.services.flow.score(request, report) as result,
        ):
            files = [path for path in (result.clip, result.card) if path is not None]
            if sum(path.stat().st_size for path in files) > limits.upload_bytes:
                files = [result.card] if result.card is not None else []
            text, view = result.text, None
            if self.services.community.ratings is not None and result.scored.saved:  # members rate it below
                text += f"\n{describe_rating_prompt(result.scored.attempt.scorer_version)}"
                view = rating_view(result.scored.attempt.id)
            await self._send(interaction, text, files, result.card, view)

    async def _send(
        self,
        interaction: discord.Interaction,
        text: str,
        files: list[Path],
        card: Path | None,
        view: discord.ui.View | None,
    ) -> None:
        """The score with the clip, the card and the rating menu; if the upload is refused, the card alone;
        if the interaction can no longer be followed up, all of it in the channel."""
        try:
            attachments = [discord.File(p) for p in files]
            await interaction.edit_original_response(content=text, attachments=attachments, view=view)
        except discord.HTTPException as error:
            if is_expired(error):
                logger.warning("the follow-up window of a /score closed; posting its result in the channel")
                await post_in_channel(interaction, text, files=files, view=view)
                return
            if card is None or files == [card]:
                raise
            logger.warning("could not upload the clip (%s); sending the card alone", error)
            await interaction.edit_original_response(content=text, attachments=[discord.File(card)], view=view)

    @score.autocomplete("dance")
    async def dance_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await suggest_dances(self.services, interaction, current)
