"""Fixtures: every rule test runs on SQLite and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.storage.database import Database
from tests.postgres import create_schema, drop_schema

from .world import World

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest_asyncio.fixture(params=BACKENDS)
async def database_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    """A function making `Database` objects on one fresh, migrated-on-demand database (SQLite or PG)."""
    kind = request.param
    made: list[Database] = []
    pg = await create_schema() if kind == "postgres" else None

    def make() -> Database:
        db = Database(pg.url, schema=pg.schema) if pg else Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        made.append(db)
        return db

    yield make
    for db in made:
        await db.dispose()
    if pg:
        await drop_schema(pg)


@pytest_asyncio.fixture
async def database(database_factory) -> Database:
    db = database_factory()
    await db.migrate()
    return db


@pytest_asyncio.fixture
async def world(database: Database, tmp_path: Path) -> World:
    return World(database, tmp_path)
