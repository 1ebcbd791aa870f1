"""Storage errors: the database is unreachable or misconfigured. Messages are fit to show an operator.

Not refusals (they are never the user's doing): the bots answer them with an apology (`bot.errors`).
"""

from __future__ import annotations


class StorageError(Exception):
    """The database cannot be used (bad URL, unreachable server, schema newer than this code)."""

    code = "storage"


class StorageUnavailableError(StorageError):
    """The database did not answer (connection refused or lost, timed out): worth trying again later."""

    code = "storage_unavailable"
