"""Shared set-up for the pool tests: the job module on sys.path (spawned workers inherit it) and a runner
for async scenarios (the project has no pytest-asyncio; each test runs its own event loop)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pool_jobs import WorkerSettings


def run_async(coroutine, timeout_s: float = 120.0):
    """Run one async scenario on a fresh event loop, with a hard time limit so a hang fails the test."""

    async def bounded():
        async with asyncio.timeout(timeout_s):
            return await coroutine

    return asyncio.run(bounded())


@pytest.fixture
def worker_settings(tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(log_dir=str(tmp_path))
