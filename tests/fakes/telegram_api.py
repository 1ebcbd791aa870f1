"""A fake Telegram Bot API server (aiohttp) that python-telegram-bot talks to over real HTTP.

It implements the part of the Bot API the bot uses, with Telegram's own limits and error shapes:
getMe, getUpdates (long poll with offsets), sendMessage, editMessageText (both with inline keyboards),
answerCallbackQuery, sendChatAction, sendVideo / sendPhoto / sendDocument and sendMediaGroup (multipart;
the files are kept for the test to inspect; an album is recorded as one message per item), getFile and the
file download under /file/bot{token}/{path}, getChatMember / getChatAdministrators (members who left say
so), deleteWebhook, setMyCommands, deleteMessage, and 429 injection with `retry_after`. With
`rate_limits=True` it also enforces Telegram's group budget: at most `GROUP_MESSAGES_PER_MINUTE` messages
(sent or edited) per group chat in any 60 s, beyond which it answers 429 with the `retry_after` that frees
the window, as Telegram does.

Tests push updates as a user would send them (`send_video`, `send_document`, `send_text`, `press_button`,
...) and read what the bot sent (`sent`, `wait_for`, `callback_answers`, `wait_for_answer`). Point the bot at it with::

    ApplicationBuilder().token(TOKEN).base_url(f"{api.url}/bot").base_file_url(f"{api.url}/file/bot")

Run it by hand for an end-to-end check (files the bot sends are written to --save-dir)::

    python -m tests.fakes.telegram_api --port 8081
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 20 * 2**20  # getFile refuses bigger files ("file is too big")
GROUP_MESSAGES_PER_MINUTE = 20  # Telegram's limit per group (https://core.telegram.org/bots/faq)
# The methods that put (or change) a message in a chat, which the group budget counts.
COUNTED_METHODS = {
    "sendMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "sendVideo",
    "sendPhoto",
    "sendDocument",
    "sendAnimation",
    "sendMediaGroup",  # one message per item of the album
}
UPLOAD_LIMIT = 50 * 2**20  # sendVideo & co. refuse bigger files (413)
TOKEN_FORM = re.compile(r"\d+:[\w-]+")
FILE_KINDS = {
    "sendVideo": "video",
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendAnimation": "animation",
}


@dataclass
class SentMessage:
    """One message the bot sent (or edited), as the fake server stored it."""

    method: str
    chat_id: int
    message_id: int
    text: str | None = None
    caption: str | None = None
    reply_to: int | None = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (file name, bytes)
    edits: list[str] = field(default_factory=list)  # every text this message had, in order
    reply_markup: dict[str, Any] | None = None  # the inline keyboard under it now, as sent
    at: float = field(default_factory=time.monotonic)  # when it was sent (time.monotonic())
    deleted: bool = False  # the bot deleted it

    @property
    def buttons(self) -> list[list[str]]:
        """The inline keyboard's button labels, row by row (empty without a keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[button["text"] for button in row] for row in rows]

    @property
    def body(self) -> str:
        """The text or caption as the user sees it now."""
        return self.text if self.text is not None else (self.caption or "")


@dataclass
class CallbackAnswer:
    """The bot's answer to a button press (answerCallbackQuery): the notice only the presser sees."""

    callback_query_id: str
    text: str | None
    show_alert: bool


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    path: str
    data: bytes


class FakeTelegramApi:
    """The server and its state. Use `async with FakeTelegramApi() as api:` to run it on 127.0.0.1."""

    def __init__(
        self, *, bot_username: str = "dancescore_test_bot", save_dir: Path | None = None, rate_limits: bool = False
    ) -> None:
        self.bot_username = bot_username
        self.save_dir = save_dir
        self.rate_limits = rate_limits
        self.refused: list[tuple[str, int]] = []  # (method, chat id) answered 429 by the group budget
        self._budget: dict[int, list[float]] = {}  # group chat id -> when its counted messages were sent
        self.updates: list[dict[str, Any]] = []
        self.sent: list[SentMessage] = []
        self.calls: list[str] = []  # every method called, in order (429-refused calls included)
        self.files: dict[str, StoredFile] = {}
        self.admins: dict[int, set[int]] = {}  # chat id -> user ids that are administrators
        self.owners: dict[int, int] = {}  # chat id -> creator's user id
        self.left: dict[int, set[int]] = {}  # chat id -> user ids that left it (or were removed)
        self.callback_answers: list[CallbackAnswer] = []
        self.commands: list[dict[str, Any]] = []
        self._faults: list[dict[str, Any]] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._sent_by_id: dict[tuple[int, int], SentMessage] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle
    def application(self) -> web.Application:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        app.router.add_post("/control/send", self._handle_control_send)
        app.router.add_get("/control/sent", self._handle_control_sent)
        app.router.add_post("/control/press", self._handle_control_press)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.application(), shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test side: what users do
    def user(self, user_id: int, first_name: str = "Dancer") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "username": first_name.lower()}

    def add_file(self, data: bytes, name: str) -> StoredFile:
        n = next(self._file_ids)
        stored = StoredFile(f"file-{n}", f"u{n}", f"documents/{n}_{name}", data)
        self.files[stored.file_id] = stored
        return stored

    async def send_text(
        self,
        chat_id: int,
        user: dict[str, Any],
        text: str,
        *,
        reply_to: int | None = None,
        chat_type: str = "group",
        anonymous_admin: bool = False,
    ) -> dict[str, Any]:
        """A text message; `anonymous_admin`: sent by an administrator posting as the group itself."""
        if anonymous_admin:
            user = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
        message = self._user_message(chat_id, user, chat_type, reply_to)
        if anonymous_admin:
            message["sender_chat"] = self._chat(chat_id, chat_type)
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._push(message)

    async def send_video(
        self,
        chat_id: int,
        user: dict[str, Any],
        data: bytes,
        *,
        caption: str | None = None,
        name: str = "dance.mp4",
        duration: int = 10,
        declared_size: int | None = None,
        chat_type: str = "group",
    ) -> dict[str, Any]:
        """A video sent as a video (Telegram re-encodes those to MP4)."""
        stored = self.add_file(data, name)
        message = self._user_message(chat_id, user, chat_type, None)
        message["video"] = {
            **self._file_fields(stored, declared_size),
            "width": 720,
            "height": 1280,
            "duration": duration,
            "mime_type": "video/mp4",
            "file_name": name,
        }
        return await self._push(self._with_caption(message, caption))

    async def send_animation(
        self,
        chat_id: int,
        user: dict[str, Any],
        data: bytes,
        *,
        caption: str | None = None,
        name: str = "clip.mp4",
    ) -> dict[str, Any]:
        """A short muted MP4: Telegram delivers it as an animation (and a document)."""
        stored = self.add_file(data, name)
        message = self._user_message(chat_id, user, "group", None)
        fields = {**self._file_fields(stored, None), "file_name": name, "mime_type": "video/mp4"}
        message["animation"] = {**fields, "width": 720, "height": 1280, "duration": 5}
        message["document"] = fields
        return await self._push(self._with_caption(message, caption))

    async def send_photo(
        self, chat_id: int, user: dict[str, Any], data: bytes, *, caption: str | None = None
    ) -> dict[str, Any]:
        """A picture: Telegram delivers it as photo sizes (no file name, no MIME type)."""
        stored = self.add_file(data, "photo.jpg")
        message = self._user_message(chat_id, user, "group", None)
        message["photo"] = [{**self._file_fields(stored, None), "width": 320, "height": 240}]
        return await self._push(self._with_caption(message, caption))

    async def send_document(
        self,
        chat_id: int,
        user: dict[str, Any],
        data: bytes,
        *,
        name: str,
        mime_type: str,
        caption: str | None = None,
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """A file sent as a file (not recompressed): video files, or anything else."""
        stored = self.add_file(data, name)
        message = self._user_message(chat_id, user, "group", None)
        message["document"] = {
            **self._file_fields(stored, declared_size),
            "file_name": name,
            "mime_type": mime_type,
        }
        return await self._push(self._with_caption(message, caption))

    async def press_button(self, chat_id: int, message_id: int, user: dict[str, Any], label: str) -> str:
        """A user presses the button labelled `label` under a message the bot sent; returns the query id.

        Like a Telegram client, only a button that is there can be pressed; the bot receives its callback data.
        """
        sent = self._sent_by_id.get((chat_id, message_id))
        keyboard = (sent.reply_markup or {}).get("inline_keyboard", []) if sent else []
        button = next((b for row in keyboard for b in row if b["text"] == label), None)
        if button is None or "callback_data" not in button:
            raise AssertionError(f"no button {label!r} under message {message_id} in chat {chat_id}")
        query_id = str(next(self._callback_ids))
        query = {
            "id": query_id,
            "from": user,
            "message": self._messages[(chat_id, message_id)],
            "chat_instance": f"instance{chat_id}",
            "data": button["callback_data"],
        }
        async with self._changed:
            self.updates.append({"update_id": next(self._update_ids), "callback_query": query})
            self._changed.notify_all()
        return query_id

    async def wait_for_answer(self, query_id: str, timeout: float = 20.0) -> CallbackAnswer:
        """The bot's answer to the button press `query_id`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                for answer in self.callback_answers:
                    if answer.callback_query_id == query_id:
                        return answer
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the bot did not answer the button press {query_id} within {timeout} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)

    def remove_member(self, chat_id: int, user_id: int) -> None:
        """The user leaves the chat (getChatMember says "left" from now on)."""
        self.left.setdefault(chat_id, set()).add(user_id)

    def make_admin(self, chat_id: int, user_id: int, *, owner: bool = False) -> None:
        self.admins.setdefault(chat_id, set()).add(user_id)
        if owner:
            self.owners[chat_id] = user_id

    def fail_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 Too Many Requests."""
        self._faults.append({"method": method, "retry_after": retry_after, "times": times})

    # ------------------------------------------------------------------ test side: what the bot did
    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    async def wait_for(self, predicate: Callable[[SentMessage], bool], timeout: float = 20.0) -> SentMessage:
        """The first sent (or edited) message matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                for message in self.sent:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.method, m.chat_id, m.body) for m in self.sent]
                    raise AssertionError(f"the bot sent nothing matching within {timeout} s; it sent {seen}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)

    # ------------------------------------------------------------------ HTTP side
    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if not TOKEN_FORM.fullmatch(request.match_info["token"]):
            return self._error(401, "Unauthorized")
        fault = self._take_fault(method)
        if fault is not None:
            return self._error(
                429,
                f"Too Many Requests: retry after {fault['retry_after']}",
                {"retry_after": fault["retry_after"]},
            )
        params, files = await self._read_params(request)
        wait = self._spend_budget(method, params)
        if wait:
            return self._error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        handler = self._methods().get(method)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        try:
            result = await handler(params, files)
        except _ApiError as error:
            return self._error(error.status, error.description)
        async with self._changed:
            self._changed.notify_all()
        return web.json_response({"ok": True, "result": result})

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    async def _handle_control_send(self, request: web.Request) -> web.Response:
        """For a person driving the server by hand: a user sends a file (multipart field `file`) with a
        caption, or a text. Form fields: chat_id, user_id, caption or text, as (video|document)."""
        params, files = await self._read_params(request)
        chat_id, user = int(params.get("chat_id", -100)), self.user(int(params.get("user_id", 1)))
        if "file" not in files:
            message = await self.send_text(chat_id, user, str(params.get("text", "")))
        elif params.get("as") == "document":
            name, data = files["file"]
            message = await self.send_document(
                chat_id,
                user,
                data,
                name=name,
                caption=params.get("caption"),
                mime_type=str(params.get("mime_type", "text/plain")),
            )
        else:
            name, data = files["file"]
            message = await self.send_video(chat_id, user, data, name=name, caption=params.get("caption"))
        return web.json_response({"message_id": message["message_id"]})

    async def _handle_control_press(self, request: web.Request) -> web.Response:
        """For a person driving the server by hand: a user presses a button under a message the bot sent.
        Form fields: chat_id, message_id, user_id, label. Answers with the bot's notice to that user."""
        params, _ = await self._read_params(request)
        query_id = await self.press_button(
            int(params["chat_id"]), int(params["message_id"]), self.user(int(params.get("user_id", 1))), params["label"]
        )
        answer = await self.wait_for_answer(query_id)
        return web.json_response({"text": answer.text, "show_alert": answer.show_alert})

    async def _handle_control_sent(self, request: web.Request) -> web.Response:
        """Everything the bot sent so far, files listed by name and size."""
        return web.json_response(
            [
                {
                    "method": m.method,
                    "chat_id": m.chat_id,
                    "message_id": m.message_id,
                    "text": m.body,
                    "edits": m.edits,
                    "buttons": m.buttons,
                    "files": {k: [n, len(d)] for k, (n, d) in m.files.items()},
                }
                for m in self.sent
            ]
        )

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = (value.filename, value.file.read())
                else:
                    params[key] = value
        return params, files

    def _spend_budget(self, method: str, params: dict[str, Any]) -> int:
        """With `rate_limits`: count a message in its group's window; seconds to wait when it is full."""
        if not self.rate_limits or method not in COUNTED_METHODS:
            return 0
        try:
            chat_id = int(params.get("chat_id", 0))
        except (TypeError, ValueError):
            return 0
        if chat_id >= 0:
            return 0
        count = len(_json_field(params, "media") or []) if method == "sendMediaGroup" else 1
        now = time.monotonic()
        window = [t for t in self._budget.get(chat_id, []) if t > now - 60.0]
        if len(window) + count > GROUP_MESSAGES_PER_MINUTE:
            self._budget[chat_id] = window
            self.refused.append((method, chat_id))
            return max(1, math.ceil(window[len(window) + count - GROUP_MESSAGES_PER_MINUTE - 1] + 60.0 - now))
        self._budget[chat_id] = [*window, *[now] * count]
        return 0

    def _take_fault(self, method: str) -> dict[str, Any] | None:
        for fault in self._faults:
            if fault["method"] == method and fault["times"] > 0:
                fault["times"] -= 1
                return fault
        return None

    @staticmethod
    def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    # ------------------------------------------------------------------ Bot API methods
    def _methods(self) -> dict[str, Callable[..., Any]]:
        return {
            "getMe": self._api_get_me,
            "deleteWebhook": self._api_delete_webhook,
            "setMyCommands": self._api_set_my_commands,
            "getUpdates": self._api_get_updates,
            "sendChatAction": self._api_send_chat_action,
            "sendMessage": self._api_send_message,
            "editMessageText": self._api_edit_message_text,
            "answerCallbackQuery": self._api_answer_callback_query,
            "deleteMessage": self._api_delete_message,
            "sendVideo": self._api_send_video,
            "sendPhoto": self._api_send_photo,
            "sendDocument": self._api_send_document,
            "sendMediaGroup": self._api_send_media_group,
            "getFile": self._api_get_file,
            "getChatMember": self._api_get_chat_member,
            "getChatAdministrators": self._api_get_chat_administrators,
        }

    async def _api_get_me(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user()

    async def _api_delete_webhook(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        return True

    async def _api_set_my_commands(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        self.commands = _json_field(params, "commands") or []
        return True

    async def _api_get_updates(self, params: dict[str, Any], files: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self.updates and self._runner is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
        return self.updates[:limit]

    async def _api_send_chat_action(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        return True

    async def _api_send_message(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text") or "")
        if not text:
            raise _ApiError(400, "Bad Request: message text is empty")
        return self._record("sendMessage", params, text=text)

    async def _api_edit_message_text(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self._messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        text = str(params.get("text") or "")
        markup = _json_field(params, "reply_markup")
        if message.get("text") == text and markup == message.get("reply_markup"):
            raise _ApiError(400, "Bad Request: message is not modified")
        message["text"] = text
        sent = self._sent_by_id[key]
        sent.text = text
        sent.edits.append(text)
        _set_markup(message, sent, markup)
        return message

    async def _api_answer_callback_query(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        alert = params.get("show_alert") in (True, "true", "True", "1")
        self.callback_answers.append(CallbackAnswer(str(params["callback_query_id"]), text, alert))
        return True

    async def _api_delete_message(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if self._messages.pop(key, None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        if key in self._sent_by_id:
            self._sent_by_id[key].deleted = True
        return True

    async def _send_file(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        kind = FILE_KINDS[method]
        if kind not in files:
            raise _ApiError(400, f"Bad Request: there is no {kind} in the request")
        name, data = files[kind]
        if len(data) > UPLOAD_LIMIT:
            raise _ApiError(413, "Request Entity Too Large")
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            (self.save_dir / f"{next(self._file_ids)}_{Path(name).name}").write_bytes(data)
        return self._record(method, params, caption=params.get("caption"), files={kind: (name, data)})

    async def _api_send_video(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file("sendVideo", params, files)

    async def _api_send_photo(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file("sendPhoto", params, files)

    async def _api_send_document(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file("sendDocument", params, files)

    async def _api_send_media_group(self, params: dict[str, Any], files: dict[str, Any]) -> list[dict[str, Any]]:
        """An album: each item refers to its file as `attach://<field>`; recorded one message per item."""
        media = _json_field(params, "media") or []
        if not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of media in the album (2-10)")
        sent = []
        for item in media:
            field_name = str(item.get("media", "")).removeprefix("attach://")
            if item.get("type") not in {"photo", "video"} or field_name not in files:
                raise _ApiError(400, "Bad Request: wrong media in the album")
            name, data = files[field_name]
            kind = str(item["type"])
            item_params = {"chat_id": params["chat_id"], "reply_parameters": params.get("reply_parameters")}
            sent.append(
                self._record("sendMediaGroup", item_params, caption=item.get("caption"), files={kind: (name, data)})
            )
        return sent

    async def _api_get_file(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id")))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    async def _api_get_chat_member(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        return self._member(chat_id, user_id)

    async def _api_get_chat_administrators(self, params: dict[str, Any], files: dict[str, Any]) -> list[Any]:
        chat_id = int(params["chat_id"])
        return [self._member(chat_id, user_id) for user_id in sorted(self.admins.get(chat_id, ()))]

    # ------------------------------------------------------------------ payloads
    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": 999,
            "is_bot": True,
            "first_name": "DanceScore",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        user = self.user(user_id, f"user{user_id}")
        if user_id in self.left.get(chat_id, set()):
            return {"status": "left", "user": user}
        if self.owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self.admins.get(chat_id, set()):
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **rights,
            }
        return {"status": "member", "user": user}

    def _chat(self, chat_id: int, chat_type: str) -> dict[str, Any]:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": "Dancer"}
        return {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}

    def _user_message(self, chat_id: int, user: dict[str, Any], chat_type: str, reply_to: int | None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type),
            "from": user,
        }
        if reply_to is not None:
            message["reply_to_message"] = self._messages[(chat_id, reply_to)]
        return message

    @staticmethod
    def _with_caption(message: dict[str, Any], caption: str | None) -> dict[str, Any]:
        if caption:
            message["caption"] = caption
            if caption.startswith("/"):
                command = caption.split()[0]
                message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return message

    @staticmethod
    def _file_fields(stored: StoredFile, declared_size: int | None) -> dict[str, Any]:
        size = declared_size if declared_size is not None else len(stored.data)
        return {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "file_size": size}

    async def _push(self, message: dict[str, Any]) -> dict[str, Any]:
        self._messages[(message["chat"]["id"], message["message_id"])] = message
        async with self._changed:
            self.updates.append({"update_id": next(self._update_ids), "message": message})
            self._changed.notify_all()
        return message

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        *,
        text: str | None = None,
        caption: str | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        reply = _json_field(params, "reply_parameters") or {}
        reply_to = reply.get("message_id") or params.get("reply_to_message_id")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, "group"),
            "from": self._bot_user(),
        }
        if text is not None:
            message["text"] = text
        if caption:
            message["caption"] = caption
        for kind, (name, data) in (files or {}).items():
            stored = self.add_file(data, name)
            fields = self._file_fields(stored, None)
            message[kind] = [{**fields, "width": 1, "height": 1}] if kind == "photo" else {**fields, "file_name": name}
            if kind == "video":
                message[kind].update(width=1, height=1, duration=1)
        self._messages[(chat_id, message["message_id"])] = message
        sent = SentMessage(
            method,
            chat_id,
            message["message_id"],
            text=text,
            caption=caption,
            reply_to=int(reply_to) if reply_to else None,
            files=dict(files or {}),
            edits=[text] if text is not None else [],
        )
        _set_markup(message, sent, _json_field(params, "reply_markup"))
        self._sent_by_id[(chat_id, message["message_id"])] = sent
        self.sent.append(sent)
        return message


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _set_markup(message: dict[str, Any], sent: SentMessage, markup: Any) -> None:
    """Keep an inline keyboard on the stored message (what users see) and on the test's record of it."""
    if markup and markup.get("inline_keyboard"):
        message["reply_markup"] = markup
        sent.reply_markup = markup
    else:
        message.pop("reply_markup", None)
        sent.reply_markup = None


def _json_field(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        return json.loads(value)
    return value


async def _serve(port: int, save_dir: Path, rate_limits: bool) -> None:
    api = FakeTelegramApi(save_dir=save_dir, rate_limits=rate_limits)
    url = await api.start(port=port)
    logger.info("fake Bot API on %s (files the bot sends go to %s)", url, save_dir)
    try:
        await asyncio.Event().wait()
    finally:
        await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Telegram Bot API server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--save-dir", type=Path, default=Path("out/telegram-fake"))
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="do not enforce the 20 messages a minute of a group"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.save_dir, not args.no_rate_limits))


if __name__ == "__main__":
    main()
