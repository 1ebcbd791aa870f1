"""A community service on a real database with the scripted engine and a manual clock, for rule tests."""

from __future__ import annotations

from pathlib import Path

from bot.core.clock import ManualClock
from bot.core.models import Caller, CommunityRef, Limits
from bot.core.service import CommunityService
from bot.gateways.scripted import ScriptedEngine
from bot.storage.database import Database
from bot.storage.repository import SqlCommunityStore
from engine.decode import VideoLimits


class World:
    """A service on a real database with the scripted engine and a manual clock, plus video makers."""

    def __init__(self, db: Database, folder: Path, limits: Limits | None = None) -> None:
        self.db = db
        self.folder = folder
        self.clock = ManualClock()
        self.engine = ScriptedEngine()
        self.store = SqlCommunityStore(db)
        self.service = self.make_service(limits)
        self._n = 0

    def make_service(self, limits: Limits | None = None, db: Database | None = None) -> CommunityService:
        """Another service on the same data; pass its own `db` to act like a separate process. The scripted
        engine takes the same limits, as the composition root gives the real one."""
        if limits is not None:
            self.engine.limits = VideoLimits(limits.max_bytes, limits.max_duration_s)
        return CommunityService(
            SqlCommunityStore(db or self.db),
            self.engine,
            self.clock,
            media_dir=self.folder / "media",
            limits=limits or Limits(rate_limit=1000),
        )

    def video(self, score: float = 7.0, duration: float = 10.0, extra: str = "") -> Path:
        """A new scripted "video" (distinct content, so a distinct hash)."""
        self._n += 1
        path = self.folder / f"video{self._n}.txt"
        path.write_text(f"score={score} duration={duration} take={self._n} {extra}\n")
        return path


MOD = Caller("discord", "1", "Mia (mod)", is_moderator=True)
HERE = CommunityRef("discord", "1000")
ELSEWHERE = CommunityRef("telegram", "-1002000")


def user(n: int, platform: str = "discord") -> Caller:
    return Caller(platform, f"u{n}", f"User {n}")
