"""Fixtures: every rule test runs on SQLite and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.database import Database

from .world import World

POSTGRES_ENV = "DANCESCORE_TEST_POSTGRES_URL"


@dataclass
class PostgresSchema:
    url: str
    schema: str


async def _postgres_schema() -> PostgresSchema:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc.__class__.__name__}: {exc}")
    finally:
        await engine.dispose()
    return PostgresSchema(url, schema)


async def _drop_schema(pg: PostgresSchema) -> None:
    engine = create_async_engine(pg.url)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{pg.schema}" CASCADE'))
    await engine.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest_asyncio.fixture(params=BACKENDS)
async def database_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    """A function making `Database` objects on one fresh, migrated-on-demand database (SQLite or PG)."""
    kind = request.param
    made: list[Database] = []
    pg = await _postgres_schema() if kind == "postgres" else None

    def make() -> Database:
        db = Database(pg.url, schema=pg.schema) if pg else Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        made.append(db)
        return db

    yield make
    for db in made:
        await db.dispose()
    if pg:
        await _drop_schema(pg)


@pytest_asyncio.fixture
async def database(database_factory) -> Database:
    db = database_factory()
    await db.migrate()
    return db


@pytest_asyncio.fixture
async def world(database: Database, tmp_path: Path) -> World:
    return World(database, tmp_path)
