"""Telegram: the rating keyboard under each result, and what a press of one of its buttons does.

The keyboard's buttons carry `rate:<attempt id>:<value>` as callback data, so they keep working after a
restart (nothing is kept per message). A press is answered with a short notice only the presser sees
(answerCallbackQuery); a chat gets no extra message, which matters under Telegram's group rate limits.
Only members of the chat can rate (getChatMember: a user who left, or was removed, is refused).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot.core.models import Caller, CommunityRef
from bot.core.ratings import RATING_VALUES, RatingError, RatingService
from bot.errors import explain_failure
from bot.rating_replies import describe_rating

logger = logging.getLogger(__name__)

CALLBACK = re.compile(r"^rate:(?P<attempt>[0-9]{1,18}):(?P<value>[0-9]{1,2})$")
MEMBER_STATES = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
NOTICE_LIMIT = 200  # characters Telegram shows in a callback answer


def rating_keyboard(attempt_id: int) -> InlineKeyboardMarkup:
    """Ten buttons in two rows (1-5, 6-10) under a result."""
    buttons = [InlineKeyboardButton(str(v), callback_data=f"rate:{attempt_id}:{v}") for v in RATING_VALUES]
    return InlineKeyboardMarkup([buttons[:5], buttons[5:]])


class RatingButtons:
    """Handles presses of the rating keyboard's buttons, over the rating service."""

    def __init__(self, ratings: RatingService) -> None:
        self.ratings = ratings

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        return [CallbackQueryHandler(self.rate_pressed, pattern=CALLBACK)]

    async def rate_pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        match = CALLBACK.match(query.data)
        assert match is not None
        message = query.message
        user = query.from_user
        try:
            if message is None:
                raise RatingError("This rating button is too old to use; rate the attempt in its chat.")
            where = CommunityRef("telegram", str(message.chat.id))
            caller = Caller("telegram", str(user.id), user.full_name)
            member = await self._is_member(message, user.id, context)
            receipt = await self.ratings.rate(caller, where, int(match["attempt"]), int(match["value"]), member=member)
            text, alert = describe_rating(receipt), False
        except Exception as error:  # a refusal's sentence, or the apology (logged): an alert the presser closes
            place = f"chat {message.chat.id}" if message is not None else "an old message"
            text, alert = explain_failure(error, f"a rating button in {place}"), True
        try:
            await query.answer(text[:NOTICE_LIMIT], show_alert=alert)
        except TelegramError:
            logger.warning("could not answer a rating button", exc_info=True)

    async def _is_member(self, message: Any, user_id: int, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Telegram's word: the user is in the chat of the message (in a private chat: it is theirs)."""
        if message.chat.type == ChatType.PRIVATE:
            return bool(message.chat.id == user_id)
        member = await context.bot.get_chat_member(message.chat.id, user_id)
        return member.status in MEMBER_STATES or bool(getattr(member, "is_member", False))


def looks_like_version(text: str) -> bool:
    """`v1`, `v1-cal2`: a scorer version rather than a dance name (in `/scorer rescore [version] [dance]`)."""
    return bool(re.fullmatch(r"v[0-9][a-z0-9._-]*", text.lower()))
