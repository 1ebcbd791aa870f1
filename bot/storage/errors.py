"""Storage errors: the database is unreachable or misconfigured. Messages are fit to show an operator."""

from __future__ import annotations

from bot.core.errors import CoreError


class StorageError(CoreError):
    """The database cannot be used (bad URL, unreachable server, schema newer than this code)."""

    code = "storage"
