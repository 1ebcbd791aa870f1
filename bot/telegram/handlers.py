"""Telegram handlers: chat events in, calls of the shared flow and core out, native replies back.

`/score <dance>` works as the caption of a video, a video file (document) or an animation (a short muted
MP4), and as a text reply to such a message; so does `/dance add <name>` for moderators. `CommandHandler`
ignores captions, so captions go through a `MessageHandler` with a caption filter. Any other command, or
one that is not understood, is answered with how to use it.

Only the person who posted a video may have it scored; a chat administrator replying to someone's video
scores it for them (credited to the poster). A group has a budget of about 20 messages a minute, edits
included, so a result costs it three (it cost about ten): the "Analysing…" acknowledgement (deleted once the
result is there), the clip with the result as its caption and the rating keyboard under it, and the score
card. Progress is shown only for jobs that run long enough to need it, and less often in groups.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, BaseHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.bootstrap import Services
from bot.core.durations import parse_duration
from bot.core.errors import NotModeratorError, NotOwnerError, TooLargeError
from bot.core.models import Attempt, Caller, CommunityRef
from bot.errors import MissingVideoError, NotAVideoError, explain_failure
from bot.pictures import draw_history, draw_podium
from bot.rating_replies import (
    describe_rating_prompt,
    describe_rating_stats,
    describe_rescore,
    describe_scorer_status,
)
from bot.replies import describe_challenges, describe_history, describe_leaderboard, describe_profile
from bot.scoring import MiB, PlatformLimits, ScoreReply, ScoreRequest, VideoUpload
from bot.telegram.ratings import RatingButtons, looks_like_version, rating_keyboard

logger = logging.getLogger(__name__)

LIMITS = PlatformLimits(
    platform="telegram",
    download_bytes=20 * MiB,  # getFile's limit (a self-hosted Bot API server has none)
    upload_bytes=50 * MiB,
    trim_hint="Trim it to the part with the dance (Telegram's editor can do it before sending) or send it "
    "as a video rather than a file, so Telegram compresses it, and try again.",
    progress_interval_s=5.0,  # private chats: about one message a second is fine
    progress_quiet_s=4.0,
)
# A group gets about 20 messages a minute, edits included: progress only for long jobs, and rarely.
GROUP_LIMITS = replace(LIMITS, progress_interval_s=30.0, progress_quiet_s=20.0)
CAPTION_LIMIT = 1024  # characters of a media caption
SCORE_CAPTION = re.compile(r"^/score(@\w+)?(\s|$)", re.IGNORECASE)
DANCE_CAPTION = re.compile(r"^/dance(@\w+)?(\s|$)", re.IGNORECASE)
ANY_CAPTION_COMMAND = re.compile(r"^/\w")
USAGE = (
    "Send your dance video with the caption /score <dance>, or reply to your video with /score <dance>. "
    "/dances lists the dances of this chat."
)
DANCE_USAGE = (
    "Use /dance add <name> as the caption of the reference video (or as a reply to it), or /dance remove <name>."
)
HELP = (
    "I score how well you replicate a dance, from 1 to 10, and show you what to work on.\n"
    "• /score <dance> as the caption of your video (or as a reply to a video)\n"
    "• /dances: the dances of this chat\n"
    "• /leaderboard [dance] [all|season|challenge]: the best scores here\n"
    "• /challenge status: the running challenges\n"
    "• /me: your scores and ranks; /me <dance>: your progress at a dance, as a chart\n"
    "Under each result, members rate the attempt from 1 to 10 (your own rating is kept but not counted).\n"
    "Chat administrators: reply to a reference video with /dance add <name>; /dance remove <name>; "
    "/challenge start <dance> <duration, e.g. 3d>; /challenge end [dance]; /rate: the members' ratings; "
    "/scorer status | use <version> | rescore [version] [dance]: which scorer version makes the scores."
)
TEXT_COMMANDS = {"dances", "leaderboard", "challenge", "me", "help", "start", "rate", "scorer"}
SCORER_USAGE = "Use /scorer status, /scorer use <version> or /scorer rescore [version] [dance]."
PERIODS = {"all", "season", "challenge"}
# The command menu Telegram shows users (set on start).
MENU = [
    ("score", "Score your dance: send it as the caption of your video"),
    ("dances", "The dances of this chat"),
    ("leaderboard", "The best scores: /leaderboard [dance] [all|season|challenge]"),
    ("challenge", "The running challenges: /challenge status"),
    ("me", "Your scores and ranks; /me <dance>: your progress"),
    ("help", "How to use DanceScore"),
]
Command = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, Any]]
Answer = str | tuple[str, Path]  # a command's reply: text, or text with a picture (sent as its caption)


class TelegramHandlers:
    """The bot's handlers, bound to the shared services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.core = services.community
        self.ratings = services.community.ratings

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        media = filters.VIDEO | filters.ANIMATION | filters.Document.ALL | filters.PHOTO
        return [
            MessageHandler(media & filters.CaptionRegex(SCORE_CAPTION), self.score_caption),
            MessageHandler(media & filters.CaptionRegex(DANCE_CAPTION), self.answering(self.dance_caption)),
            CommandHandler("score", self.score_reply),
            CommandHandler("dances", self.answering(self.dances)),
            CommandHandler("dance", self.answering(self.dance)),
            CommandHandler("leaderboard", self.answering(self.leaderboard)),
            CommandHandler("challenge", self.answering(self.challenge)),
            CommandHandler("me", self.answering(self.me)),
            CommandHandler(["help", "start"], self.answering(self.help)),
            *self.rating_handlers(),
            # Last: whatever command nobody above took (unknown, or a caption command on something else).
            MessageHandler(filters.COMMAND | (media & filters.CaptionRegex(ANY_CAPTION_COMMAND)), self.unknown),
        ]

    def rating_handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """The rating buttons, /rate and /scorer (when the core keeps ratings)."""
        if self.ratings is None:
            return []
        return [
            *RatingButtons(self.ratings).handlers(),
            CommandHandler("rate", self.answering(self.rate)),
            CommandHandler("scorer", self.answering(self.scorer)),
        ]

    def answering(self, command: Command) -> Command:
        """Wraps a command whose reply is text, or text with a picture (the picture is sent with the text as
        its caption, then deleted): refusals are answered with their sentence, others logged."""

        async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message = _message(update)
            try:
                reply: Answer = await command(update, context)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                reply = explain_failure(error, f"/{command.__name__} in chat {message.chat_id}")
            if isinstance(reply, str):
                await message.reply_text(reply)
                return
            text, picture = reply
            try:
                if len(text) > CAPTION_LIMIT:
                    await message.reply_text(text)
                    text = ""
                with picture.open("rb") as handle:
                    await message.reply_photo(handle, filename=picture.name, caption=text or None)
            finally:
                shutil.rmtree(picture.parent, ignore_errors=True)

        return answer

    @property
    def pictures(self) -> Path:
        """A fresh folder for a picture to be sent (in the work folder; removed once it is sent)."""
        work = self.services.flow.work_dir
        work.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="pictures-", dir=work))

    # ------------------------------------------------------------------ text commands
    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return HELP

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command no handler took: answered with how to use the bot, unless it was meant for another bot."""
        message = _message(update)
        word = ((message.text or message.caption or "").split() or [""])[0]
        addressee = word.partition("@")[2]
        if addressee and addressee.lower() != (context.bot.username or "").lower():
            return
        name = word.partition("@")[0]
        if name.lower().lstrip("/") in TEXT_COMMANDS:  # a known command, but as a caption
            text = f"Send {name} as a message of its own, not as the caption of a file.\n{USAGE}"
        else:
            text = f"I don't know the command {name}.\n{HELP}"
        await _quietly(message.reply_text(text))

    async def rate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """`/rate`: how members rated the attempts of this chat (administrators)."""
        assert self.ratings is not None
        message = _message(update)
        caller = await self._moderator_caller(message, context)
        return describe_rating_stats(await self.ratings.show_rating_stats(caller, _where(message)))

    async def scorer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """`/scorer status`, `/scorer use <version>`, `/scorer rescore [version] [dance]` (administrators)."""
        assert self.ratings is not None
        message = _message(update)
        args = list(context.args or [])
        action = args.pop(0).lower() if args else "status"
        if action not in {"status", "use", "rescore"} or (action == "use" and len(args) != 1):
            return SCORER_USAGE
        caller = await self._moderator_caller(message, context)
        where = _where(message)
        if action == "status":
            return describe_scorer_status(await self.ratings.show_scorer(caller, where))
        if action == "use":
            status = await self.ratings.use_scorer(caller, where, args[0])
            return (
                f"New attempts here are now scored by {status.version}. To re-score the boards too: "
                "/scorer rescore\n" + describe_scorer_status(status)
            )
        version = args.pop(0) if args and looks_like_version(args[0]) else None
        return describe_rescore(await self.ratings.rescore(caller, where, version, " ".join(args) or None))

    async def dances(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        dances = await self.core.list_dances(_where(_message(update)))
        if not dances:
            return "No dances yet. A chat administrator can add one: reply to a video with /dance add <name>."
        return "Dances here: " + ", ".join(d.name for d in dances)

    async def leaderboard(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Answer:
        """`/leaderboard [dance] [all|season|challenge]`: the board as a podium picture, with the asker's rank."""
        message = _message(update)
        args = list(context.args or [])
        period = args.pop().lower() if args and args[-1].lower() in PERIODS else "all"
        board = await self.core.show_leaderboard(
            _where(message), " ".join(args) or None, period, viewer=_caller(message)
        )
        return describe_leaderboard(board), await draw_podium(board, self.pictures)

    async def me(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Answer:
        """`/me`: your scores and ranks; `/me <dance>`: your progress at that dance, as a chart."""
        message = _message(update)
        if context.args:
            history = await self.core.show_history(_caller(message), _where(message), " ".join(context.args))
            if not history.attempts:
                return describe_history(history)
            return describe_history(history), await draw_history(history, self.pictures)
        return describe_profile(await self.core.show_profile(_caller(message), _where(message)))

    async def challenge(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """`/challenge status [dance]`, and for administrators `start <dance> <duration>` and `end [dance]`."""
        message = _message(update)
        args = list(context.args or [])
        action = args.pop(0).lower() if args else "status"
        where = _where(message)
        if action == "status":
            return describe_challenges(await self.core.show_challenges(where, " ".join(args) or None))
        if action == "start" and len(args) >= 2:
            caller = await self._moderator_caller(message, context)
            duration = parse_duration(args[-1])
            started = await self.core.start_challenge(
                caller, where, " ".join(args[:-1]), duration, channel=str(message.chat_id)
            )
            return (
                f"Challenge #{started.id} on “{started.dance_name}” is on until "
                f"{started.ends_at:%Y-%m-%d %H:%M} UTC. Send /score {started.dance_name} with your video!"
            )
        if action == "end":
            caller = await self._moderator_caller(message, context)
            ended = await self.core.end_challenge(caller, where, " ".join(args) or None)
            return f"Challenge #{ended.id} on “{ended.dance_name}” has ended; the results follow."
        return "Use /challenge status, /challenge start <dance> <duration, e.g. 3d> or /challenge end [dance]."

    async def dance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """`/dance add <name>` (as a reply to the reference video) and `/dance remove <name>`: admins only."""
        message = _message(update)
        return await self._dance(message, list(context.args or []), message.reply_to_message, context)

    async def dance_caption(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """`/dance add <name>` as the caption of the reference video itself."""
        message = _message(update)
        args = DANCE_CAPTION.sub("", (message.caption or "").strip(), count=1).split()
        return await self._dance(message, args, message, context)

    async def _dance(
        self, message: Message, args: list[str], target: Message | None, context: ContextTypes.DEFAULT_TYPE
    ) -> str:
        """`add <name>` with the video of `target`, or `remove <name>` (chat administrators only)."""
        action, name = (args[0].lower(), " ".join(args[1:])) if args else ("", "")
        if action not in {"add", "remove"} or not name:
            return DANCE_USAGE
        caller = await self._moderator_caller(message, context)
        if action == "remove":
            removed = await self.core.remove_dance(caller, _where(message), name)
            return f"Removed the dance “{removed.name}”."
        if not caller.is_moderator:  # refused before anything is downloaded
            raise NotModeratorError("register dances")
        video = _video_of(target) if target is not None else None
        if video is None:
            raise MissingVideoError(
                "Send the reference video with the caption /dance add <name>, or reply to it with /dance add <name>."
            )
        upload = _upload(video, context)
        self.services.flow.check_upload(upload, LIMITS)
        await message.reply_text("Analysing the reference…")
        async with self.services.workload.job(), self.services.flow.downloaded(upload) as path:
            added = await self.core.add_dance(caller, _where(message), name, path)
        return f"Added the dance “{added.name}”. Try it: send your video with the caption /score {added.name}"

    # ------------------------------------------------------------------ scoring
    async def score_caption(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = _message(update)
        await self._score(message, message, _argument(message.caption or ""), context)

    async def score_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = _message(update)
        target = message.reply_to_message
        if target is None or (_video_of(target) is None and not target.photo):
            await message.reply_text(USAGE)
            return
        await self._score(message, target, " ".join(context.args or []), context)

    async def _score(self, command: Message, target: Message, dance: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Score the video in `target` against `dance`, for whoever posted it; `command` asked for it."""
        status = await command.reply_text("Analysing…")  # acknowledge at once

        async def report(text: str) -> None:
            await status.edit_text(text)

        try:
            if not dance:
                raise MissingVideoError("Which dance? Write /score <dance>; /dances lists them.")
            if _video_of(target) is None:
                raise NotAVideoError(
                    "A photo can't be scored: send a video of your dance with the caption /score <dance>."
                )
            poster, requested_by = await self._poster(command, target, context)
            notice = {"chat_id": status.chat_id, "message_id": status.message_id}
            upload = _upload(_video_of(target), context)
            limits = LIMITS if command.chat.type == ChatType.PRIVATE else GROUP_LIMITS
            request = ScoreRequest(_where(command), poster, dance, upload, limits, notice, requested_by)
            async with self.services.workload.job(), self.services.flow.score(request, report) as reply:
                await self._deliver(status, target, reply)
        except (asyncio.CancelledError, Exception) as error:
            await _quietly(status.edit_text(explain_failure(error, f"/score in chat {command.chat_id}")))
            if isinstance(error, asyncio.CancelledError):
                raise

    async def _poster(
        self, command: Message, target: Message, context: ContextTypes.DEFAULT_TYPE
    ) -> tuple[Caller, Caller | None]:
        """Whose attempt it is (who posted the video) and, when someone else asked, who (with the
        platform's word on whether they moderate: only then may they score it for the poster)."""
        poster = target.from_user
        if poster is None or poster.is_bot:
            raise NotOwnerError()
        if command.from_user is not None and command.from_user.id == poster.id:
            return _caller(target), None
        return _caller(target), await self._moderator_caller(command, context)

    async def _deliver(self, status: Message, target: Message, reply: ScoreReply) -> None:
        """The result in as few messages as Telegram allows: the clip (else the card) with the result as its
        caption and the rating keyboard under it, replying to the video, then the card; the "Analysing…"
        message is deleted. Without media, the status message becomes the result."""
        text, markup = reply.text, None
        attempt: Attempt = reply.scored.attempt
        if self.ratings is not None and reply.scored.saved:  # members rate it under the result
            text += f"\n{describe_rating_prompt(attempt.scorer_version)}"
            markup = rating_keyboard(attempt.id)
        if len(text) > CAPTION_LIMIT:  # too long for a caption: the status message keeps the text
            await status.edit_text(text, reply_markup=markup)
            text, markup = "", None
        carrier = None
        if reply.clip is not None:
            video = functools.partial(target.reply_video, supports_streaming=True)
            carrier = await _send_file(video, reply.clip, "dancescore.mp4", text, markup)
        if carrier is None and reply.card is not None:
            carrier = await _send_file(target.reply_photo, reply.card, "dancescore.png", text, markup)
        if carrier is None:
            if text:
                await status.edit_text(text, reply_markup=markup)
            return
        if text:
            await _quietly(status.delete())
        if carrier == "dancescore.mp4" and reply.card is not None:
            await _send_file(target.reply_photo, reply.card, "dancescore.png", "", None)

    async def _moderator_caller(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> Caller:
        """The caller, with the platform's word on moderation: chat administrators and the owner
        (getChatMember), an administrator posting anonymously as the group; in a private chat, the user."""
        caller = _caller(message)
        anonymous_admin = message.sender_chat is not None and message.sender_chat.id == message.chat_id
        if message.chat.type == ChatType.PRIVATE or anonymous_admin:
            return Caller(caller.platform, caller.user_id, caller.display_name, is_moderator=True)
        member = await context.bot.get_chat_member(message.chat_id, int(caller.user_id))
        is_moderator = member.status in {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
        return Caller(caller.platform, caller.user_id, caller.display_name, is_moderator=is_moderator)


def build_application(
    token: str, api_url: str | None, services: Services, **builder: Any
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot Application: rate-limited and retried, updates handled concurrently.

    `api_url` is a Bot API server's base URL (e.g. http://127.0.0.1:8081); None means Telegram's own.
    """
    from telegram.ext import AIORateLimiter, ApplicationBuilder

    build = ApplicationBuilder().token(token).rate_limiter(AIORateLimiter(max_retries=3))
    build = build.concurrent_updates(True)
    if api_url:
        base = api_url.rstrip("/")
        build = build.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    for name, value in builder.items():
        build = getattr(build, name)(value)
    application = build.build()
    handlers = TelegramHandlers(services)
    application.add_handlers(handlers.handlers())
    application.add_error_handler(log_error)
    return application


async def log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What no handler answered: the one failure policy (logged; the user, if any, gets its sentence)."""
    text = explain_failure(context.error or RuntimeError("unknown"), "a Telegram update")
    if isinstance(update, Update) and update.effective_message is not None:
        await _quietly(update.effective_message.reply_text(text))


# ---------------------------------------------------------------------- plain data from Telegram objects
def _message(update: Update) -> Message:
    assert update.effective_message is not None
    return update.effective_message


def _where(message: Message) -> CommunityRef:
    return CommunityRef("telegram", str(message.chat_id))


def _caller(message: Message) -> Caller:
    user = message.from_user
    assert user is not None
    return Caller("telegram", str(user.id), user.full_name)


async def _send_file(
    send: Callable[..., Awaitable[Any]], path: Path, filename: str, caption: str, markup: Any
) -> str | None:
    """Send one file with its caption and keyboard; its file name once sent, None when Telegram refused it
    (too large, say: the caller falls back to the next way of showing the result)."""
    try:
        with path.open("rb") as handle:
            await send(handle, filename=filename, caption=caption or None, reply_markup=markup)
    except TelegramError as error:
        logger.warning("could not send %s (%s)", filename, error)
        return None
    return filename


def _argument(caption: str) -> str:
    return SCORE_CAPTION.sub("", caption.strip(), count=1).strip()


def _video_of(message: Message) -> Any:
    """The video, animation or document of a message (None for none)."""
    return message.video or message.animation or message.document


def _upload(video: Any, context: ContextTypes.DEFAULT_TYPE) -> VideoUpload:
    async def fetch(path: Path) -> None:
        try:
            file = await context.bot.get_file(video.file_id)
        except BadRequest as error:
            if "too big" in str(error).lower():
                size = video.file_size or LIMITS.download_bytes + 1
                raise TooLargeError(size, LIMITS.download_bytes, platform="telegram", hint=LIMITS.trim_hint) from error
            raise
        await file.download_to_drive(path)

    duration = video.to_dict().get("duration")  # seconds, as sent (the attribute's type is changing in PTB)
    return VideoUpload(
        filename=getattr(video, "file_name", None) or "video.mp4",
        size=video.file_size,
        mime_type=video.mime_type,
        fetch=fetch,
        duration_s=duration,
    )


async def _quietly(action: Awaitable[Any]) -> None:
    try:
        await action
    except TelegramError:
        logger.warning("could not send a message", exc_info=True)
