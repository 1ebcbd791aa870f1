"""How progress reaches a chat (`bot.scoring.ProgressRelay`): nothing for a job shorter than the quiet time,
then the newest line at most once per interval, and nothing once the result is being sent."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.scoring import ProgressRelay
from engine.progress import Stage

pytestmark = pytest.mark.asyncio


async def test_a_short_job_shows_no_progress():
    shown: list[str] = []

    async def report(text: str) -> None:
        shown.append(text)

    relay = ProgressRelay(report, interval_s=0.2, quiet_s=0.5)
    relay.show("Downloading your video…")
    relay.update(Stage.POSE, 0.5)
    await asyncio.sleep(0.1)
    await relay.close()
    await asyncio.sleep(0.6)
    assert shown == []


async def test_a_long_job_shows_the_newest_line_at_the_pace_allowed():
    shown: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def report(text: str) -> None:
        shown.append((loop.time() - start, text))

    relay = ProgressRelay(report, interval_s=0.3, quiet_s=0.2)
    for i in range(10):  # an event every 0.05 s for 0.5 s
        relay.update(Stage.POSE, i / 10)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.4)
    await relay.close()
    relay.update(Stage.RENDER, 0.5)  # after close: never shown
    await asyncio.sleep(0.1)
    times = [t for t, _ in shown]
    assert times[0] >= 0.2  # nothing before the quiet time
    assert all(b - a >= 0.29 for a, b in itertools.pairwise(times))  # then at most one per interval
    assert shown[-1][1] == "Analysing… 90%"  # the newest line wins
    assert len(shown) == 2
