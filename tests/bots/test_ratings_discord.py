"""Rating attempts on Discord through the real discord.py (the result's select menu, a DynamicItem) against
simcord's in-memory Discord, on the real community core and database; /rate and /scorer for moderators."""

from __future__ import annotations

import discord
import pytest
from simcord.backend.errors import SetupError

from bot.bootstrap import Services
from bot.core.models import CommunityRef
from bot.discord.bot import DanceScoreBot
from tests.bots.conftest import Community

pytestmark = pytest.mark.asyncio

MENU = "dancescore:rate:1"
RATINGS_LINE = (
    "Ratings here: 1 from 1 member on 1 attempt, plus 0 ratings by dancers of their own attempts (kept, never used)."
)


@pytest.fixture
def simcord_bot(services: Services) -> DanceScoreBot:
    return DanceScoreBot(services)


async def scored_attempt(env, community: Community, video_bytes: bytes):
    guild = env.create_guild()
    channel = guild.create_text_channel("dance-floor")
    await community.add_dance(CommunityRef("discord", str(guild.id)), "renegade")
    ana = guild.add_member(env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    return guild, channel, ana, result.response


async def test_a_member_rates_the_result_and_changes_the_rating(simcord_env, community, video_bytes) -> None:
    guild, channel, _, message = await scored_attempt(simcord_env, community, video_bytes)
    assert message.content.splitlines()[-1] == "Members: rate this attempt from 1 to 10 below. (Scorer v2.)"
    (row,) = message.components
    (menu,) = row["components"]
    assert menu["custom_id"] == MENU and [o["value"] for o in menu["options"]] == [str(v) for v in range(10, 0, -1)]

    bo = guild.add_member(simcord_env.create_user("bo"))
    first = await bo.select(message, ["7"])
    assert first.ephemeral and first.response.content == "You rated ana's renegade attempt 7/10."
    again = await bo.select(message, ["9"])
    assert again.response.content == "You changed your rating of ana's renegade attempt from 7 to 9/10."
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = guild.add_member(simcord_env.create_user("mod"), roles=[mods])
    stats = await mod.slash(channel, "rate")
    assert stats.ephemeral
    assert stats.response.content.splitlines()[0] == RATINGS_LINE
    assert "Ratings given: 9: 1" in stats.response.content


async def test_the_dancers_own_rating_is_kept_but_never_used(simcord_env, community, video_bytes) -> None:
    guild, _, ana, message = await scored_attempt(simcord_env, community, video_bytes)
    own = await ana.select(message, ["10"])
    assert own.response.content == (
        "You rated your own renegade attempt 10/10. Ratings of your own attempts are kept but never used to tune "
        "the scorer."
    )
    ratings = community.service.ratings
    _, rows, _ = await ratings.collect_for_calibration(CommunityRef("discord", str(guild.id)))
    assert [(r.value, r.own) for r in rows] == [(10.0, True)]


async def test_a_member_of_another_server_cannot_rate(simcord_env, community, video_bytes) -> None:
    from simcord import actors

    _, _, _, message = await scored_attempt(simcord_env, community, video_bytes)
    elsewhere = simcord_env.create_guild()
    lounge = elsewhere.create_text_channel("lounge")
    await community.add_dance(CommunityRef("discord", str(elsewhere.id)), "renegade")
    cy = elsewhere.add_member(simcord_env.create_user("cy"))
    with pytest.raises(SetupError, match="outside this member's guild"):  # Discord never shows them the menu...
        await cy.select(message, ["1"])
    # ...and if a component interaction for it came from their server anyway (a modified client replaying the
    # custom_id), the core refuses it: the attempt belongs to another community.
    crafted = await actors._dispatch_actor_interaction(
        cy,
        3,  # MESSAGE_COMPONENT
        lounge,
        {"custom_id": MENU, "component_type": 3, "values": ["1"]},
        extra={"message": _payload_of(simcord_env, message)},
    )
    assert crafted.response.content == "Only members of the community where this attempt was scored can rate it."
    stats = await community.service.ratings.store.read_rating_stats(1)
    assert (stats.ratings, stats.own) == (0, 0)


async def test_rating_menus_keep_working_after_a_restart(simcord_env, community, services, video_bytes) -> None:
    guild, _, _, message = await scored_attempt(simcord_env, community, video_bytes)
    await simcord_env.restart_bot(DanceScoreBot(services))  # a new process: no view state from before
    bo = guild.add_member(simcord_env.create_user("bo"))
    rated = await bo.select(message, ["4"])
    assert rated.response.content == "You rated ana's renegade attempt 4/10."


async def test_scorer_commands_are_for_moderators(simcord_env, community, video_bytes) -> None:
    guild, channel, ana, _ = await scored_attempt(simcord_env, community, video_bytes)
    with pytest.raises(SetupError):  # hidden from members by their default permissions
        await ana.slash(channel, "scorer status")
    with pytest.raises(SetupError):
        await ana.slash(channel, "rate")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = guild.add_member(simcord_env.create_user("mod"), roles=[mods])
    status = await mod.slash(channel, "scorer status")
    assert status.ephemeral and status.response.content.splitlines()[0] == "Scorer in use here: v2."
    refused = await mod.slash(channel, "scorer use", version="v1-cal4")
    assert refused.response.content == "There is no scorer “v1-cal4” for this community; it can use: v2."
    used = await mod.slash(channel, "scorer use", version="v2")
    assert used.response.content.startswith("New attempts here are now scored by v2.")
    rescored = await mod.slash(channel, "scorer rescore")
    assert rescored.response.content == (
        "Re-scored 0 attempts with v2; the boards are rebuilt. Already scored by v2: 1 attempt."
    )


def _payload_of(env, message) -> dict:
    from simcord.backend import serializers

    backend = env.backend
    return dict(serializers.message_payload(backend, backend.get_message(message.channel_id, message.id)))
