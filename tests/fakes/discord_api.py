"""A local stand-in for Discord's REST API and gateway: enough for discord.py to log in, sync its slash
commands and open the gateway, which then closes with `close_code` once the bot identifies (4004,
"authentication failed", by default: a failure discord.py does not retry). For the runner's tests of a
Discord that fails while Telegram goes on; the commands themselves are tested with simcord.

    point discord.py at it: `point_discord_at(api.url)` (REST base and gateway URL).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import yarl
from aiohttp import WSMsgType, web

BOT_USER = {"id": "100", "username": "dancescore", "discriminator": "0", "avatar": None, "bot": True}
APPLICATION = {
    "id": "200",
    "name": "DanceScore",
    "description": "",
    "icon": None,
    "bot_public": True,
    "bot_require_code_grant": False,
    "owner": {"id": "300", "username": "owner", "discriminator": "0", "avatar": None},
    "verify_key": "0" * 64,
    "flags": 0,
}


def point_discord_at(url: str) -> None:
    """Make discord.py (in this process) use the fake at `url` for REST and the gateway."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = f"{url}/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url.replace("http://", "ws://", 1) + "/gateway/")


class FakeDiscordApi:
    def __init__(self, *, close_code: int = 4004) -> None:
        self.close_code = close_code
        self.calls: list[str] = []
        self.identified = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeDiscordApi:
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._json(BOT_USER))
        app.router.add_get("/api/v10/oauth2/applications/@me", self._json(APPLICATION))
        app.router.add_put("/api/v10/applications/{app}/commands", self._json([]))
        app.router.add_get("/gateway/", self._gateway)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _json(self, body: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            self.calls.append(f"{request.method} {request.path}")
            # discord.py decodes only this exact content type (aiohttp's default adds a charset)
            return web.Response(body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})

        return handle

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        self.calls.append("gateway")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})  # HELLO
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.json().get("op") == 2:  # IDENTIFY
                self.identified.set()
                await ws.close(code=self.close_code, message=b"Authentication failed.")
                break
        return ws
