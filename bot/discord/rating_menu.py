"""The rating menu under each result: a select menu 1-10; choosing a value rates the attempt (again: changes it).

It is a `DynamicItem`: its custom_id (`dancescore:rate:<attempt id>`) carries the attempt, and the bot
registers the pattern at start, so the menus of every result ever sent keep working after a restart (no
per-message state). Each rating is answered privately (ephemeral).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol, cast

import discord

from bot.bootstrap import Services
from bot.core.ratings import RATING_VALUES, RatingService
from bot.discord.interactions import answering, caller_of, where_of
from bot.rating_replies import describe_rating

logger = logging.getLogger(__name__)


class WithServices(Protocol):
    """The client (`bot.discord.bot.DanceScoreBot`, which imports this module) as the menu needs it."""

    services: Services


CUSTOM_ID = "dancescore:rate:{attempt}"
TEMPLATE = r"dancescore:rate:(?P<attempt>[0-9]{1,18})"
OPTION_NOTES = {10: "as good as the reference", 5: "half there", 1: "not this dance"}


class RatingSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=TEMPLATE):
    """The 1-10 menu under a result; choosing a value rates the attempt (again: changes the rating)."""

    def __init__(self, attempt_id: int) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=CUSTOM_ID.format(attempt=attempt_id),
                placeholder="Rate this attempt: 1-10",
                options=[
                    discord.SelectOption(label=str(v), value=str(v), description=OPTION_NOTES.get(v))
                    for v in reversed(RATING_VALUES)
                ],
            )
        )
        self.attempt_id = attempt_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RatingSelect:
        return cls(int(match["attempt"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Rate, and tell only the rater; a refusal or a failure is answered by the one failure policy."""
        async with answering(interaction):
            ratings = ratings_of(cast(WithServices, interaction.client).services)
            value = int(self.item.values[0])
            receipt = await ratings.rate(caller_of(interaction), where_of(interaction), self.attempt_id, value)
            await interaction.response.send_message(describe_rating(receipt), ephemeral=True)


def rating_view(attempt_id: int) -> discord.ui.View:
    """The rating menu to attach to the result message of an attempt."""
    view = discord.ui.View(timeout=None)
    view.add_item(RatingSelect(attempt_id))
    return view


def ratings_of(services: Services) -> RatingService:
    """The rating service of the shared services."""
    ratings = services.community.ratings
    if ratings is None:
        raise RuntimeError("the community service was built without ratings")
    return ratings
