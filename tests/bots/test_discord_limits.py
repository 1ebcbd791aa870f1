"""Discord's real limits (issue 13), through the real discord.py against simcord's in-memory Discord with the
upload limits real servers have (tests/fakes/discord_limits.py): a 10 MiB server, answers within 3 s when the
database is slow, the 15-minute follow-up window, slash-command syncs, mentions, and announcements the bot
may not post."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import discord
import pytest

from bot import runner
from bot.bootstrap import Services
from bot.core.models import CommunityRef
from bot.core.service import ANNOUNCE_RETRY_S, ANNOUNCE_TRIES
from bot.discord.bot import DanceScoreBot
from tests.bots.conftest import MOD, Community
from tests.fakes.discord_limits import UploadLimits

pytestmark = pytest.mark.asyncio
MiB = 2**20


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> UploadLimits:
    return UploadLimits.install(monkeypatch)


@pytest.fixture
def simcord_bot(services: Services, limits: UploadLimits) -> DanceScoreBot:
    return DanceScoreBot(services)


async def guild_with_dance(env: Any, community: Community, name: str = "renegade") -> tuple[Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("dance-floor")
    await community.add_dance(CommunityRef("discord", str(guild.id)), name)
    return guild, channel


def script(**words: object) -> bytes:
    return " ".join(f"{k}={v}" for k, v in words.items()).encode()


async def test_an_unboosted_server_gets_a_clip_sized_to_its_10_mib(simcord_env, community, limits, video_bytes):
    community.engine.clip_pad_bytes = 12 * MiB  # what the engine would make with no budget given
    guild, channel = await guild_with_dance(simcord_env, community)
    ana = guild.add_member(simcord_env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert result.response.content.startswith("renegade: 7.4 / 10")
    assert sorted(a.filename for a in result.response.attachments) == ["1-card.png", "1-clip.mp4"]
    assert sum(a.size for a in result.response.attachments) <= 10 * MiB
    assert community.engine.budgets == [8 * MiB]  # the clip was made to fit with the card
    assert limits.refused == []
    assert simcord_env.bot.get_guild(guild.id).filesize_limit == 10 * MiB


async def test_a_clip_that_still_does_not_fit_is_replaced_by_the_card(simcord_env, community, limits, video_bytes):
    community.engine.clip_pad_bytes = 12 * MiB
    guild, channel = await guild_with_dance(simcord_env, community)
    ana = guild.add_member(simcord_env.create_user("ana"))
    # an engine that overshoots its budget: the server refuses the upload, the card goes alone
    community.engine.budgets.clear()
    original = community.engine.score

    async def overshooting(*args: Any, **options: Any) -> Any:
        options["clip_budget_bytes"] = None
        return await original(*args, **options)

    community.engine.score = overshooting  # type: ignore[method-assign]
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert result.response.content.startswith("renegade: 7.4 / 10")
    assert [a.filename for a in result.response.attachments] == ["1-card.png"]


class SlowStore:
    """The community store with every call taking `delay_s` longer: a database under load."""

    def __init__(self, store: Any, delay_s: float) -> None:
        self._store, self._delay_s = store, delay_s

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(self._delay_s)
            return await method(*args, **kwargs)

        return slow


@pytest.mark.slow
async def test_commands_answer_within_3_s_when_the_database_is_slow(simcord_env, community, services):
    """Each command's answer needs two reads of 1.6 s (virtual time): it is deferred at 2 s, then edited."""
    guild, channel = await guild_with_dance(simcord_env, community)
    ana = guild.add_member(simcord_env.create_user("ana"))
    services.community.store = SlowStore(services.community.store, 1.6)  # two reads: 3.2 s before an answer

    async def ask(*command: Any, **options: Any) -> Any:
        await ana.slash(channel, *command, **options)
        await simcord_env.advance_time(5)  # the database answers meanwhile
        return channel.history(viewer=ana)[-1]

    board = await ask("leaderboard", dance="renegade")
    assert board.content.splitlines()[0] == "renegade · all time"
    status = await ask("challenge status")
    assert status.content.startswith("No challenge is running here.")
    me = await ask("me")
    assert me.content.startswith("You have no scored attempts here yet.") and me.flags.ephemeral
    callbacks = [r.json["type"] for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert callbacks == [5, 5, 5]  # each deferred in time ("thinking…"), then answered by an edit


async def test_a_job_that_would_outlast_the_follow_up_window_is_refused_at_once(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dance(simcord_env, community)
    ana = guild.add_member(simcord_env.create_user("ana"))
    community.engine.wait_s, community.engine.expected_s = 8 * 60.0, 10 * 60.0  # under 14 min to start, yet
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert result.response.content == (
        "I'm very busy: your video would be scored in about 18 min, longer than I can keep this reply open "
        "(14 min). Please send it again in a few minutes."
    )
    assert community.engine.attempts == []  # refused before any analysis
    community.engine.wait_s = 0.0  # not held against her: she can send it again at once
    again = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert again.response.content.startswith("renegade: 7.4 / 10")


async def test_a_result_past_the_follow_up_window_is_posted_in_the_channel(simcord_env, community):
    guild, channel = await guild_with_dance(simcord_env, community)
    ana = guild.add_member(simcord_env.create_user("ana"))
    ben = guild.add_member(simcord_env.create_user("ben"))
    # the estimate said 30 s; the job takes 16 minutes
    video = script(score=7.4, seconds=16 * 60)
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video))
    assert "renegade: 7.4" not in (result.response.content or "")  # still analysing
    await simcord_env.advance_time(16 * 60 + 5)
    posted = channel.last_message
    assert posted.content.startswith(f"{ana.mention} renegade: 7.4 / 10 (personal best!)")
    assert sorted(a.filename for a in posted.attachments) == ["1-card.png", "1-clip.mp4"]
    assert [m.id for m in posted.mentions] == [ana.id] and not posted.mention_everyone
    assert ben.id not in [m.id for m in posted.mentions]


async def test_slash_commands_are_synced_only_when_their_definitions_change(simcord_env, community, services):
    def syncs() -> int:
        return len([r for r in simcord_env.http_requests if r.method == "PUT" and r.path.endswith("/commands")])

    assert syncs() == 1  # the first start registers them
    await simcord_env.restart_bot(DanceScoreBot(services))
    assert syncs() == 1  # a restart with the same commands does not sync again...
    guild, channel = await guild_with_dance(simcord_env, community)
    ana = guild.add_member(simcord_env.create_user("ana"))
    assert (await ana.slash(channel, "help")).response.content.startswith("I score how well")  # ...they still work

    changed = DanceScoreBot(services)

    async def setup_hook() -> None:  # a new version of the bot with one more command
        @changed.tree.command(name="ping", description="Are you there?")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        await DanceScoreBot.setup_hook(changed)

    changed.setup_hook = setup_hook  # type: ignore[method-assign]
    await simcord_env.restart_bot(changed)
    assert syncs() == 2
    assert (await ana.slash(channel, "ping")).response.content == "pong"


async def test_no_message_pings_anyone_but_the_user_it_answers(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dance(simcord_env, community)
    where = CommunityRef("discord", str(guild.id))
    await community.service.start_challenge(MOD, where, "renegade", timedelta(days=1), channel=str(channel.id))
    prankster = guild.add_member(simcord_env.create_user("prankster"), nick="@everyone <@&1> @here")
    await prankster.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    board = await prankster.slash(channel, "leaderboard", dance="renegade")
    assert "1. @everyone <@&1> @here: 7.4" in board.response.content
    await community.service.end_challenge(MOD, where)
    await runner.announce_once(community.service, "discord", runner.discord_poster(simcord_env.bot), "test")
    await simcord_env.settle()
    ours = [m for m in channel.history() if m.author.id == simcord_env.bot.user.id]
    assert any("Winner: @everyone" in m.content for m in ours)  # the challenge's results
    assert len(ours) >= 3
    for message in ours:
        assert not message.mention_everyone, message.content
        assert message.role_mentions == [] and message.mentions == [], message.content


async def test_announcements_the_bot_may_not_post_are_given_up_after_a_few_tries(
    simcord_env, community, caplog: pytest.LogCaptureFixture
):
    guild = simcord_env.create_guild()
    bot_member = guild.me
    assert bot_member is not None
    closed = guild.create_text_channel(
        "announcements", overwrites={bot_member: discord.PermissionOverwrite(send_messages=False)}
    )
    where = CommunityRef("discord", str(guild.id))
    await community.add_dance(where, "renegade")
    core = community.service
    await core.start_challenge(MOD, where, "renegade", timedelta(days=1), channel=str(closed.id))
    await core.end_challenge(MOD, where)
    post = runner.discord_poster(simcord_env.bot)
    with caplog.at_level(logging.WARNING):
        for _ in range(ANNOUNCE_TRIES):
            assert await runner.announce_once(core, "discord", post, "bot") == 0
            core.clock.advance(seconds=ANNOUNCE_RETRY_S + 1)
        assert await runner.announce_once(core, "discord", post, "bot") == 0
        core.clock.advance(days=1)
        assert await core.claim_announcements("discord", "bot") == []  # not retried forever
    assert any("gave up posting the results of challenge #1" in r.getMessage() for r in caplog.records)
    assert closed.last_message is None
