"""Discord's real upload limits, added to simcord's in-memory Discord (which reports 25 MiB everywhere).

A server's upload limit follows its boost level (premium tier): 10 MiB at tiers 0 and 1, 50 MiB at tier 2,
100 MiB at tier 3 (Discord's documentation; discord.py's `Guild._PREMIUM_GUILD_LIMITS`). With these limits
installed, simcord's interaction payloads carry the server's `attachment_size_limit` as Discord's do, its guild
payloads the server's `premium_tier`, and an upload over the limit (a message, an interaction response or a
webhook edit whose files weigh more) is refused with 413 / 40005 "Request entity too large", as Discord does.

    limits = UploadLimits.install(monkeypatch)
    limits.set_tier(guild.id, 2)   # a boosted server: 50 MiB
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
import simcord.backend.serializers as serializers
import simcord.http.router as router
import simcord.interactions as interactions
from simcord.backend.errors import BackendError

MiB = 2**20
TIER_LIMITS = {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}


@dataclass
class UploadLimits:
    """The boost level of each server (0 unless set) and what it allows."""

    tiers: dict[int, int] = field(default_factory=dict)
    refused: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes) of uploads refused as too large

    def set_tier(self, guild_id: int, tier: int) -> None:
        """The server's boost level (its uploads at once; the bot sees the tier from its next GUILD_CREATE)."""
        self.tiers[int(guild_id)] = tier

    def limit(self, guild_id: int | None) -> int:
        return TIER_LIMITS[self.tiers.get(int(guild_id), 0)] if guild_id is not None else TIER_LIMITS[0]

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> UploadLimits:
        limits = cls()
        base_payload = interactions.base_payload
        guild_payload = serializers.guild_create_payload
        dispatch = router.dispatch

        def with_limit(backend: Any, **options: Any) -> tuple[Any, dict[str, Any]]:
            record, payload = base_payload(backend, **options)
            payload["attachment_size_limit"] = limits.limit(options.get("guild_id"))
            return record, payload

        def with_tier(backend: Any, guild: Any) -> Any:
            payload = guild_payload(backend, guild)
            payload["premium_tier"] = limits.tiers.get(int(guild.id), 0)
            return payload

        def refusing_large_uploads(backend: Any, method: str, path: str, **options: Any) -> Any:
            files = options.get("files") or []
            size = sum(_size_of(f) for f in files)
            if files and size > limits.limit(_guild_of(backend, path)):
                limits.refused.append((path, size))
                raise BackendError(413, 40005, "Request entity too large")
            return dispatch(backend, method, path, **options)

        monkeypatch.setattr(interactions, "base_payload", with_limit)
        monkeypatch.setattr(serializers, "guild_create_payload", with_tier)
        monkeypatch.setattr(router, "dispatch", refusing_large_uploads)
        return limits


def _size_of(file: Any) -> int:
    handle = getattr(file, "fp", file)
    if isinstance(handle, io.IOBase) and handle.seekable():
        here = handle.tell()
        end = handle.seek(0, io.SEEK_END)
        handle.seek(here)
        return int(end - here)
    return len(getattr(file, "data", b"") or b"")


def _guild_of(backend: Any, path: str) -> int | None:
    """The server an upload goes to: by the interaction (token or id) or by the channel in its path."""
    parts = path.strip("/").split("/")
    record = None
    if parts[0] == "webhooks" and len(parts) >= 3:
        interaction_id = backend.interaction_tokens.get(parts[2])
        record = backend.interactions.get(interaction_id) if interaction_id is not None else None
    elif parts[0] == "interactions" and len(parts) >= 2:
        record = backend.interactions.get(int(parts[1]))
    elif parts[0] == "channels" and len(parts) >= 2:
        return backend.get_channel(int(parts[1])).guild_id
    return None if record is None else record.guild_id
