"""Connections, transactions and migrations for SQLite (default, WAL mode) and PostgreSQL (asyncpg).

Writes are serialised properly on both: on SQLite every write transaction starts with `BEGIN IMMEDIATE`
(the database write lock, taken up front, so two writers never both read and then collide) behind an
in-process lock; on PostgreSQL writers rely on constraints, `ON CONFLICT` upserts and row locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.core.errors import StorageError, StorageUnavailableError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 7_305_001  # pg_advisory_xact_lock key: one migrating process at a time


class Database:
    """An async SQLAlchemy engine pair (read / write) for one database URL.

    `sqlite+aiosqlite:///data/dancescore.db` (the file's folder is created) or
    `postgresql+asyncpg://user@host/db`; `schema` puts every table in that PostgreSQL schema.
    """

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StorageError(f"The database URL is not valid: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        self.url = parsed
        if self.dialect == "sqlite":
            if schema:
                raise StorageError("A schema can only be chosen on PostgreSQL.")
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self._write = _sqlite_engine(url, "BEGIN IMMEDIATE", echo)
            self._read = _sqlite_engine(url, "BEGIN", echo)
        elif self.dialect == "postgresql":
            args: dict[str, Any] = {}
            if schema:
                args["server_settings"] = {"search_path": schema}
            args["timeout"] = 10  # seconds to connect: an unreachable server fails fast
            self._write = create_async_engine(
                url, echo=echo, connect_args=args, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self._read = self._write
        else:
            raise StorageError(f"Unsupported database “{self.dialect}”: use sqlite+aiosqlite or postgresql+asyncpg.")
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back entirely if it raises.

        Raises StorageUnavailableError when the database does not answer (nothing was written then).
        """
        with unavailable_as_storage_error(self):
            if self._write_lock is None:
                async with self._write.begin() as conn:
                    yield conn
                return
            async with self._write_lock, self._write.begin() as conn:
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One read-only transaction (a consistent snapshot on both databases)."""
        with unavailable_as_storage_error(self):
            async with self._read.begin() as conn:
                yield conn

    async def ping(self, timeout_s: float = 2.0) -> None:
        """Raise StorageUnavailableError unless the database answers a trivial query within `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s), self.read() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except TimeoutError as exc:
            raise StorageUnavailableError(f"{self.describe()} did not answer within {timeout_s:g} s") from exc

    def describe(self) -> str:
        """The database for an operator: its URL without the password."""
        return f"the database at {self.url.render_as_string(hide_password=True)}"

    def insert(self, table: sa.Table) -> Any:
        """An INSERT that supports `on_conflict_do_nothing` / `on_conflict_do_update` on this database."""
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (from empty too); safe to run twice or concurrently.

        Raises StorageUnavailableError, naming the database, when it cannot be reached.
        """
        async with self.write() as conn:
            if self.dialect == "postgresql":
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.run_sync(_upgrade)
        log.info("database schema is up to date (%s)", self.dialect)

    async def revision(self) -> str | None:
        """The schema revision the database is at (None when it was never migrated)."""
        async with self.read() as conn:
            return await conn.run_sync(_current_revision)

    async def dispose(self) -> None:
        await self._write.dispose()
        if self._read is not self._write:
            await self._read.dispose()


@contextmanager
def unavailable_as_storage_error(db: Database) -> Iterator[None]:
    """Turn "the database did not answer" (refused, lost or timed-out connections, a locked SQLite file) into
    StorageUnavailableError; other errors (constraint violations, the core's refusals) pass unchanged."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise StorageUnavailableError(f"{db.describe()} failed: {_first_line(exc.orig or exc)}") from exc
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        detail = _first_line(exc.orig or exc)
        raise StorageUnavailableError(f"{db.describe()} dropped the connection: {detail}") from exc
    except (OSError, ConnectionError, TimeoutError) as exc:
        raise StorageUnavailableError(f"{db.describe()} cannot be reached: {_first_line(exc)}") from exc


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _sqlite_engine(url: str, begin: str, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """The Alembic configuration of the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: sa.Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current_revision(connection: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
