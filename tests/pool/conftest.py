"""Shared set-up for the pool tests: the job module on sys.path (spawned workers inherit it) and a runner
for async scenarios (the project has no pytest-asyncio; each test runs its own event loop)."""

from __future__ import annotations

import asyncio
import sys
import time
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


async def wait_for_file(path: Path, timeout_s: float = 20.0) -> str:
    """Wait until a job has written `path` (e.g. its pid when it started) and return the content."""
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        await asyncio.sleep(0.02)
    return path.read_text()


@pytest.fixture
def worker_settings(tmp_path: Path) -> WorkerSettings:
    return WorkerSettings(log_dir=str(tmp_path))
