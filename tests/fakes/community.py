"""An in-memory stand-in for the community core, for adapter tests that are not about the core's rules.

It keeps only what the adapters need to show: registered dances (with close-name suggestions) and one
running attempt per user. The real core (bot.core, with its database) replaces it wherever it is wired.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from bot.errors import AlreadyRunningError, UnknownDanceError
from bot.scoring import Dance, Dancer, VideoUpload


@dataclass
class RecordedAttempt:
    community: str
    dancer: Dancer
    dance: str
    score: float
    video_sha256: str


@dataclass
class InMemoryCommunity:
    dances: dict[str, dict[str, Dance]] = field(default_factory=dict)  # community -> name -> dance
    attempts: list[RecordedAttempt] = field(default_factory=list)
    running: set[tuple[str, str]] = field(default_factory=set)

    def register(self, community: str, dance: Dance) -> None:
        self.dances.setdefault(community, {})[dance.name] = dance

    async def list_dances(self, community: str) -> list[str]:
        return sorted(self.dances.get(community, {}))

    async def find_dance(self, community: str, name: str) -> Dance:
        known = self.dances.get(community, {})
        key = name.strip().lower()
        if key in known:
            return known[key]
        raise UnknownDanceError(name, difflib.get_close_matches(key, list(known), n=3, cutoff=0.5))

    async def begin_attempt(self, community: str, dancer: Dancer, dance: Dance) -> Any:
        slot = (dancer.platform, dancer.user_id)
        if slot in self.running:
            raise AlreadyRunningError()
        self.running.add(slot)
        return (community, dancer, dance)

    async def finish_attempt(self, ticket: Any, result: Any, video_sha256: str) -> str | None:
        community, dancer, dance = ticket
        self.running.discard((dancer.platform, dancer.user_id))
        self.attempts.append(RecordedAttempt(community, dancer, dance.name, result.score, video_sha256))
        better = sum(1 for a in self.attempts if a.community == community and a.score > result.score)
        return f"Rank {better + 1} on {dance.name} here."

    async def abandon_attempt(self, ticket: Any) -> None:
        _, dancer, _ = ticket
        self.running.discard((dancer.platform, dancer.user_id))

    async def add_dance(self, community: str, name: str, video: VideoUpload, added_by: Dancer) -> str:
        key = name.strip().lower()
        self.register(community, Dance(key, reference=f"memory://{key}"))
        return key

    async def remove_dance(self, community: str, name: str) -> None:
        dance = await self.find_dance(community, name)
        del self.dances[community][dance.name]
