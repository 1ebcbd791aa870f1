"""A fresh PostgreSQL schema per test, on the server named by DANCESCORE_TEST_POSTGRES_URL (skipped, saying
why, where there is none)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_ENV = "DANCESCORE_TEST_POSTGRES_URL"


@dataclass
class PostgresSchema:
    url: str
    schema: str


async def create_schema() -> PostgresSchema:
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


async def drop_schema(pg: PostgresSchema) -> None:
    engine = create_async_engine(pg.url)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{pg.schema}" CASCADE'))
    await engine.dispose()
