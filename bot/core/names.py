"""Dance names: the key they are stored under, validation, and tolerant lookup with suggestions."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.errors import InvalidInputError

MAX_NAME_CHARS = 40


def clean_name(name: str) -> str:
    """Return the display form of a dance name (spaces collapsed), or raise InvalidInputError."""
    shown = " ".join(unicodedata.normalize("NFC", name).split())
    if not shown:
        raise InvalidInputError("Give the dance a name, e.g. “renegade”.")
    if len(shown) > MAX_NAME_CHARS:
        raise InvalidInputError(f"A dance name can have at most {MAX_NAME_CHARS} characters.")
    if any(unicodedata.category(c).startswith("C") for c in shown):
        raise InvalidInputError("A dance name cannot contain control characters.")
    if not normalise_name(shown):
        raise InvalidInputError(f"“{shown}” has no letters or digits; pick a name people can type.")
    return shown


def normalise_name(name: str) -> str:
    """The form names are compared in: case-folded, accents dropped, only letters and digits.

    "Say So", "say-so" and "SAYSO" all give "sayso".
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def count_edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def count_allowed_typos(key: str) -> int:
    """How many edits still count as a typo of a name of this length (none for very short names)."""
    if len(key) < 4:
        return 0
    return 1 if len(key) < 8 else 2


@dataclass(frozen=True)
class NameMatch:
    """The outcome of a lookup: `target` when the name resolved, else close `suggestions` (display names)."""

    target: int | None
    suggestions: tuple[str, ...]


def match_name(query: str, names: Iterable[tuple[str, int, str]], *, max_suggestions: int = 3) -> NameMatch:
    """Resolve `query` against `(key, target id, display name)` triples (a dance's name and its aliases).

    Exact keys win; otherwise a single closest name within the typo budget resolves; otherwise up to
    `max_suggestions` close or prefix-matching display names are suggested (closest first).
    """
    key = normalise_name(query)
    rows = list(names)
    for row_key, target, _ in rows:
        if row_key == key:
            return NameMatch(target, ())
    if not key:
        return NameMatch(None, ())
    best: dict[int, tuple[int, str]] = {}  # target -> (distance, display name)
    for row_key, target, shown in rows:
        distance = count_edits(key, row_key)
        if len(key) >= 3 and row_key.startswith(key):  # typed the start of the name
            distance = min(distance, 1)
        if target not in best or distance < best[target][0]:
            best[target] = (distance, shown)
    ranked = sorted(best.items(), key=lambda item: (item[1][0], item[1][1]))
    budget = count_allowed_typos(key)
    if ranked and ranked[0][1][0] <= budget and (len(ranked) == 1 or ranked[1][1][0] > ranked[0][1][0]):
        return NameMatch(ranked[0][0], ())
    limit = max(3, len(key) // 2)
    suggestions = tuple(shown for _, (distance, shown) in ranked if distance <= limit)[:max_suggestions]
    return NameMatch(None, suggestions)
