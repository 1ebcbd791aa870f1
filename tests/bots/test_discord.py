"""The Discord bot through the real discord.py (command tree, interactions, follow-up webhooks), run against
simcord's in-memory Discord (no network, no token), on the real community core and database."""

from __future__ import annotations

import io
from pathlib import Path

import av
import discord
import pytest
from simcord.backend.errors import SetupError

from bot.bootstrap import Services
from bot.core.models import CommunityRef
from bot.discord.bot import DanceScoreBot
from tests.bots.conftest import MOD, Community

pytestmark = pytest.mark.asyncio


@pytest.fixture
def simcord_bot(services: Services):
    return DanceScoreBot(services)


async def guild_with_dances(env, community: Community, *names: str):
    guild = env.create_guild()
    channel = guild.create_text_channel("dance-floor")
    for name in names:
        await community.add_dance(CommunityRef("discord", str(guild.id)), name)
    return guild, channel


async def test_score_defers_then_answers_with_score_clip_and_card(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))

    result = await ana.slash(channel, "score", dance="renegade", video=("my dance.mp4", video_bytes))

    callbacks = [r.json for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert callbacks == [{"type": 5}]  # deferred ("thinking…") before any work, then answered by edits
    message = result.response
    assert message.content.splitlines()[0] == "renegade: 7.4 / 10 (personal best!)"
    assert "• Your left arm is late at 0:03." in message.content
    assert sorted(a.filename for a in message.attachments) == ["1-card.png", "1-clip.mp4"]
    clip = next(a for a in message.attachments if a.filename.endswith(".mp4"))
    with av.open(io.BytesIO(await clip.read())) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert community.engine.attempt_bytes == [video_bytes]  # the attachment's bytes reached the engine
    assert community.engine.attempts[0].name == "video.mp4"  # named by the server, not the user
    assert not community.engine.attempts[0].exists()  # temporary files removed after the reply


async def test_progress_is_shown_by_editing_the_deferred_message(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    edits = [
        r.json.get("content")
        for r in simcord_env.http_requests
        if r.method == "PATCH" and r.path.endswith("/messages/@original") and r.json
    ]
    assert edits[0] == "Downloading your video…"
    assert any(e and e.endswith("%") for e in edits[1:-1]), edits


async def test_dance_names_are_autocompleted(simcord_env, community):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade", "savage", "say so")
    ana = guild.add_member(simcord_env.create_user("ana"))
    choices = await ana.autocomplete(channel, "score", "dance", "sa")
    assert [c["value"] for c in choices][:2] == ["savage", "say so"]
    assert "renegade" not in [c["value"] for c in await ana.autocomplete(channel, "score", "dance", "say")]


async def test_unknown_dance_and_non_video_are_refused(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="renegaaaade", video=("a.mp4", video_bytes))
    assert result.response.content == "There is no dance called “renegaaaade” here. Did you mean “renegade”?"
    result = await ana.slash(channel, "score", dance="renegade", video=("notes.txt", b"hello"))
    assert result.response.content.startswith("“notes.txt” isn't a video.")
    assert community.engine.attempts == []


async def test_clip_over_the_upload_cap_falls_back_to_the_card(simcord_env, community, video_bytes):
    community.engine.clip_pad_bytes = 27 * 1024 * 1024  # over the interaction's attachment_size_limit (25 MiB)
    original = community.engine.score

    async def over_budget(*args, **options):  # an engine that ignores the budget it was given
        return await original(*args, **{**options, "clip_budget_bytes": None})

    community.engine.score = over_budget
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert result.response.content.startswith("renegade: 7.4 / 10")
    assert [a.filename for a in result.response.attachments] == ["1-card.png"]


async def test_dance_remove_needs_manage_server(simcord_env, community):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    where = CommunityRef("discord", str(guild.id))
    member = guild.add_member(simcord_env.create_user("member"))
    # Hidden from members by its default permissions, as in the Discord client...
    with pytest.raises(SetupError):
        await member.slash(channel, "dance remove", name="renegade")
    # ...and refused by the core when a server admin re-grants the command to everyone.
    commands = await simcord_env.bot.tree.fetch_commands()
    dance_command = next(c for c in commands if c.name == "dance")
    guild.set_command_permissions(dance_command, {member: True})
    result = await member.slash(channel, "dance remove", name="renegade")
    assert result.response.content == "Only moderators can remove dances."
    assert result.ephemeral
    assert [d.name for d in await community.service.list_dances(where)] == ["renegade"]

    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = guild.add_member(simcord_env.create_user("mod"), roles=[mods])
    result = await mod.slash(channel, "dance remove", name="renegade")
    assert result.response.content == "Removed the dance “renegade”."
    assert await community.service.list_dances(where) == []


async def test_challenge_leaderboard_and_me(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = guild.add_member(simcord_env.create_user("mod"), roles=[mods])
    ana = guild.add_member(simcord_env.create_user("ana"))
    started = await mod.slash(channel, "challenge start", dance="renegade", duration="3d")
    assert started.response.content.startswith("Challenge #1 on “renegade” is on until")
    scored = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert "Challenge #1: rank 1 of 1, ends in 3 days." in scored.response.content
    board = await ana.slash(channel, "leaderboard", dance="renegade", period="challenge")
    assert board.response.content.splitlines() == ["renegade · challenge #1 (renegade) · scorer v2", "1. ana: 7.4"]
    me = await ana.slash(channel, "me")
    assert me.ephemeral and "• renegade: 7.4, rank 1 of 1" in me.response.content
    status = await ana.slash(channel, "challenge status")
    assert status.response.content.splitlines()[1] == "1. ana: 7.4"


async def test_reference_dance_added_by_a_moderator(simcord_env, community, video_bytes, tmp_path: Path):
    guild, channel = await guild_with_dances(simcord_env, community)
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = guild.add_member(simcord_env.create_user("mod"), roles=[mods])
    result = await mod.slash(channel, "dance add", name="Say So", video=("reference.mp4", video_bytes))
    assert result.response.content == "Added the dance “Say So”. Try it: `/score dance:Say So`"
    dances = await community.service.list_dances(CommunityRef("discord", str(guild.id)))
    assert [d.name for d in dances] == ["Say So"]
    assert list((tmp_path / "work").iterdir()) == []


async def test_refused_upload_falls_back_to_the_card(simcord_env, community, video_bytes):
    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    # Once the engine is done, the next edit of the reply (the one carrying the files) is refused as too large.
    # (simcord's inject_error, done from inside the bot's own work, where it may not be called.)
    too_large = {
        "method": "PATCH",
        "path": "/webhooks/*/messages/@original",
        "status": 413,
        "code": 40005,
        "message": "Request entity too large",
        "times": 1,
    }
    community.engine.on_done = lambda: simcord_env.backend.faults.append(too_large)
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert result.response.content.startswith("renegade: 7.4 / 10")
    assert [a.filename for a in result.response.attachments] == ["1-card.png"]
    assert too_large["times"] == 0  # the refusal did happen


async def test_closed_challenge_results_are_posted_in_its_channel(simcord_env, community):
    from datetime import timedelta

    from bot import runner

    guild, channel = await guild_with_dances(simcord_env, community, "renegade")
    where = CommunityRef("discord", str(guild.id))
    core = community.service
    await core.start_challenge(MOD, where, "renegade", timedelta(days=1), channel=str(channel.id))
    await core.end_challenge(MOD, where)
    post = runner.discord_poster(simcord_env.bot)
    for announcement in await core.claim_announcements("discord", "test"):
        await post(announcement)
        assert await core.confirm_announcement(announcement, "test")
    await simcord_env.settle()
    assert channel.last_message.content.startswith("Challenge #1 (renegade) is over! Nobody took part")
    assert await core.claim_announcements("discord", "test") == []  # posted once, never twice
