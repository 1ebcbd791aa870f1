"""The Discord bot through the real discord.py (command tree, interactions, follow-up webhooks), run against
simcord's in-memory Discord: no network, no token."""

from __future__ import annotations

import io
from pathlib import Path

import av
import discord
import pytest
from simcord.backend.errors import SetupError

from bot.discord.bot import DanceScoreBot
from bot.scoring import Dance
from tests.bots.conftest import scripted_services
from tests.fakes.community import InMemoryCommunity
from tests.fakes.engine import ScriptedEngine, write_clip

pytestmark = pytest.mark.asyncio


@pytest.fixture
def discord_world(tmp_path: Path):
    community = InMemoryCommunity()
    engine = ScriptedEngine()
    services = scripted_services(community, engine, tmp_path / "work")
    return community, engine, services


@pytest.fixture
def simcord_bot(discord_world):
    return DanceScoreBot(discord_world[2])


@pytest.fixture
def video_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "attempt.mp4"
    write_clip(path, frames=6)
    return path.read_bytes()


def guild_with_dance(env, community: InMemoryCommunity, *names: str):
    guild = env.create_guild()
    channel = guild.create_text_channel("dance-floor")
    for name in names:
        community.register(f"discord:{guild.id}", Dance(name, reference=f"memory://{name}"))
    return guild, channel


async def test_score_defers_then_answers_with_score_clip_and_card(simcord_env, discord_world, video_bytes):
    community, engine, _services = discord_world
    guild, channel = guild_with_dance(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))

    result = await ana.slash(channel, "score", dance="renegade", video=("my dance.mp4", video_bytes))

    callbacks = [r.json for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert callbacks == [{"type": 5}]  # deferred ("thinking…") before any work, answered by edits
    message = result.response
    assert message.content.startswith("renegade: 7.4 / 10")
    assert "Your left arm is late at 0:03." in message.content
    names = sorted(a.filename for a in message.attachments)
    assert names == ["card.png", "clip.mp4"]
    clip = next(a for a in message.attachments if a.filename == "clip.mp4")
    with av.open(io.BytesIO(await clip.read())) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert Path(engine.jobs[0]["attempt"]).suffix == ".mp4"  # the server names the file, not the user
    assert not Path(engine.jobs[0]["attempt"]).exists()  # temporary files removed after the reply
    assert community.attempts[0].dancer.user_id == str(ana.id)


async def test_progress_is_shown_by_editing_the_deferred_message(simcord_env, discord_world, video_bytes):
    community, _engine, _services = discord_world
    guild, channel = guild_with_dance(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    edits = [
        r.json.get("content")
        for r in simcord_env.http_requests
        if r.method == "PATCH" and r.path.endswith("/messages/@original") and r.json
    ]
    assert edits[0] == "Downloading your video…"
    assert any(e and e.endswith("%") for e in edits[1:-1])


async def test_dance_names_are_autocompleted(simcord_env, discord_world):
    community, _, _ = discord_world
    guild, channel = guild_with_dance(simcord_env, community, "renegade", "savage", "say so")
    ana = guild.add_member(simcord_env.create_user("ana"))
    choices = await ana.autocomplete(channel, "score", "dance", "sa")
    assert [c["value"] for c in choices] == ["savage", "say so"]


async def test_unknown_dance_and_non_video_are_refused(simcord_env, discord_world, video_bytes):
    community, engine, _ = discord_world
    guild, channel = guild_with_dance(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="renegad", video=("a.mp4", video_bytes))
    assert result.response.content == "I don't know a dance called “renegad”. Did you mean “renegade”?"
    result = await ana.slash(channel, "score", dance="renegade", video=("notes.txt", b"hello"))
    assert result.response.content.startswith("“notes.txt” isn't a video.")
    assert engine.jobs == []


async def test_clip_over_the_upload_cap_falls_back_to_the_card(simcord_env, discord_world, video_bytes):
    community, engine, _ = discord_world
    engine.clip_pad_bytes = 27 * 1024 * 1024  # over the interaction's attachment_size_limit (25 MiB here)
    guild, channel = guild_with_dance(simcord_env, community, "renegade")
    ana = guild.add_member(simcord_env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video_bytes))
    assert result.response.content.startswith("renegade: 7.4 / 10")
    assert [a.filename for a in result.response.attachments] == ["card.png"]


async def test_dance_remove_needs_manage_server(simcord_env, discord_world):
    community, _, _ = discord_world
    guild, channel = guild_with_dance(simcord_env, community, "renegade")
    member = guild.add_member(simcord_env.create_user("member"))
    # Hidden from members by its default permissions, as in the Discord client...
    with pytest.raises(SetupError):
        await member.slash(channel, "dance remove", name="renegade")
    # ...and refused by the bot itself when an admin re-grants the command to everyone.
    commands = await simcord_env.bot.tree.fetch_commands()
    dance_command = next(c for c in commands if c.name == "dance")
    guild.set_command_permissions(dance_command, {member: True})
    result = await member.slash(channel, "dance remove", name="renegade")
    assert result.response.content == "Only moderators (the Manage Server permission) can do that."
    assert result.ephemeral
    assert await community.list_dances(f"discord:{guild.id}") == ["renegade"]

    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = guild.add_member(simcord_env.create_user("mod"), roles=[mods])
    result = await mod.slash(channel, "dance remove", name="renegade")
    assert result.response.content == "Removed the dance “renegade”."
    assert await community.list_dances(f"discord:{guild.id}") == []
