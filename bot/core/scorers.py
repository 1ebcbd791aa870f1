"""Scorer versions: the engine's own (base) scorer and the calibrations learned from members' ratings.

A calibration is a versioned JSON file under the data directory (`<data dir>/calibrations/v1-cal3.json`),
never inside the package: the shipped default stays the documented scorer, and a calibration fitted on
test data never ships. The file records the base scorer version it applies to, its input names (the base
score, then the comparison features of that version), the fitted model, and what it was measured on. A
calibration only applies to attempts whose features were made by its base version; when the engine's
scorer changes, older calibrations stop applying (and say so) instead of mapping foreign features.

`CommunityScorers.prepare` gives the function that turns the engine's result into the score of the
community's chosen version.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.errors import CoreError
from engine.result import ScoreResult

if TYPE_CHECKING:
    from bot.core.calibration import CalibrationReport
    from models.calibration import MonotoneCalibration

log = logging.getLogger(__name__)

FILE_FORMAT = "dancescore-calibration/1"
VERSION_FORM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class UnknownScorerError(CoreError):
    """No scorer version of that name exists (or it belongs to another community)."""

    code = "unknown_scorer"


@dataclass(frozen=True)
class Calibration:
    """A calibration file, loaded. `scope` is "global" or the community it was fitted for (`platform:id`)."""

    version: str
    base_version: str
    scope: str
    input_names: tuple[str, ...]
    created_at: str
    summary: dict[str, Any]  # what it was trained and measured on (as written by `save`)
    model: MonotoneCalibration

    def score(self, inputs: Mapping[str, float]) -> float:
        """The calibrated 1-10 score of one attempt from its named inputs (a missing one counts as average)."""
        return self.score_many([inputs])[0]

    def score_many(self, rows: list[Mapping[str, float]]) -> list[float]:
        import torch

        x = torch.tensor(
            [[float(row.get(n, math.nan)) for n in self.input_names] for row in rows], dtype=torch.float32
        ).reshape(len(rows), len(self.input_names))
        with torch.no_grad():
            return [float(v) for v in self.model.predict(x)]

    def describe(self) -> str:
        """One line: what it is and how it did on held-out ratings."""
        held = self.summary.get("held_out", {})
        new, old = held.get("calibration", {}), held.get("current", {})
        trained = self.summary.get("trained_on", {})
        where = "all communities" if self.scope == "global" else self.scope
        return (
            f"{self.version}: calibration of {self.base_version} from {trained.get('ratings', '?')} ratings "
            f"on {trained.get('attempts', '?')} attempts ({where}, {self.created_at[:10]}); held-out MAE "
            f"{_number(new.get('mae'))} against {_number(old.get('mae'))} for {held.get('current_version', '?')}"
        )


class ScorerBook:
    """The scorer versions a community may use: the engine's base versions and the calibration files.

    `folder` holds the calibration files; `base_versions` are the engine's own versions (the first is the
    one the engine runs now, the default for every community).
    """

    def __init__(self, folder: Path, base_versions: tuple[str, ...]) -> None:
        if not base_versions:
            raise ValueError("at least one base scorer version is needed")
        self.folder = Path(folder)
        self.base_versions = tuple(base_versions)
        self._cache: dict[str, tuple[float, Calibration]] = {}

    def __repr__(self) -> str:
        return f"ScorerBook({str(self.folder)!r}, {self.base_versions!r})"

    @property
    def default(self) -> str:
        return self.base_versions[0]

    def list_calibrations(self, scope: str | None = None) -> list[Calibration]:
        """Every readable calibration (of `scope` and the global ones, when a scope is given), oldest first."""
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                calibration = self.load(path.stem)
            except UnknownScorerError as error:
                log.warning("skipping %s: %s", path, error)
                continue
            if scope is None or calibration.scope in ("global", scope):
                found.append(calibration)
        return sorted(found, key=lambda c: (c.created_at, c.version))

    def load(self, version: str) -> Calibration:
        """The calibration `version`; raises UnknownScorerError when there is none or it cannot be read."""
        if not VERSION_FORM.fullmatch(version) or version in self.base_versions:
            raise UnknownScorerError(f"There is no calibration called “{version}”.")
        path = self.folder / f"{version}.json"
        try:
            stamp = path.stat().st_mtime
        except OSError as exc:
            raise UnknownScorerError(f"There is no calibration called “{version}”.") from exc
        cached = self._cache.get(version)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        calibration = _read_calibration(path)
        self._cache[version] = (stamp, calibration)
        return calibration

    def check_usable(self, version: str, scope: str) -> str:
        """`version` if the community `scope` may use it (a base version, a global calibration or one of its
        own); raises UnknownScorerError with the versions it may use otherwise."""
        if version in self.base_versions:
            return version
        usable = [c.version for c in self.list_calibrations(scope)]
        if version not in usable:
            choices = ", ".join([*self.base_versions, *usable])
            raise UnknownScorerError(f"There is no scorer “{version}” for this community; it can use: {choices}.")
        return version

    def save(
        self,
        report: CalibrationReport,
        *,
        scope: str,
        base_version: str,
        current_version: str,
        now: datetime,
        folds: int,
    ) -> Calibration:
        """Write an accepted calibration as the next version of `base_version`; returns it, loaded back.

        The file appears whole or not at all (written aside, then linked into place under a name no other
        file has, so two calibrations saved at once get two versions).
        """
        if not report.accepted or report.model is None or report.consensus is None:
            raise ValueError("only an accepted calibration is saved")
        assert report.calibration is not None and report.current is not None
        consensus = report.consensus
        document = {
            "format": FILE_FORMAT,
            "base_scorer_version": base_version,
            "scope": scope,
            "created_at": now.isoformat(),
            "inputs": list(report.feature_names),
            "model": report.model.to_state(),
            "trained_on": {
                "ratings": consensus.used_ratings - consensus.partial_ratings,
                "attempts": len(consensus.attempt_ids),
                "raters": consensus.rater_count,
                "own_ratings_left_out": consensus.own_ratings,
                "partial_ratings_left_out": consensus.partial_ratings,
                "capped_raters": consensus.capped_raters,
            },
            "held_out": {
                "folds": folds,
                "current_version": current_version,
                "calibration": vars(report.calibration),
                "current": vars(report.current),
                "target_spread": report.target_spread,
            },
            "why": report.reason,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.folder, suffix=".tmp", delete=False) as handle:
            json.dump(document, handle, indent=1)
            handle.write("\n")
        try:
            for number in range(self._next_number(base_version), 10_000):
                version = f"{base_version}-cal{number}"
                with contextlib.suppress(FileExistsError):
                    os.link(handle.name, self.folder / f"{version}.json")
                    return self.load(version)
            raise RuntimeError("no free calibration version")
        finally:
            os.unlink(handle.name)

    def _next_number(self, base_version: str) -> int:
        pattern = re.compile(rf"{re.escape(base_version)}-cal(\d+)")
        numbers = [int(m.group(1)) for p in self.folder.glob("*.json") if (m := pattern.fullmatch(p.stem))]
        return max(numbers, default=0) + 1


class ScorerChoices(Protocol):
    """Where a community's chosen version is kept (`bot.storage.ratings.SqlRatingStore`)."""

    async def find_scorer_version(self, community_id: int) -> str | None: ...


class CommunityScorers:
    """Gives each attempt the score of its community's chosen scorer version (the base one by default)."""

    def __init__(self, book: ScorerBook, choices: ScorerChoices) -> None:
        self.book = book
        self.choices = choices

    async def prepare(self, community_id: int) -> Callable[[ScoreResult], ScoreResult]:
        """A function giving the engine's result the score of the community's chosen version (read now).

        A calibration of another base version than the one that made a result does not apply to it: the
        base score stands (and the mismatch is logged). So does the base score when the chosen version
        cannot be read.
        """
        version = await self.choices.find_scorer_version(community_id) or self.book.default
        calibration = None
        if version not in self.book.base_versions:
            try:
                calibration = self.book.load(version)
            except UnknownScorerError:
                log.warning("community %d chose %s, which cannot be read; base scores stand", community_id, version)

        def finish(result: ScoreResult) -> ScoreResult:
            if calibration is None or version == result.scorer_version:
                return result
            if calibration.base_version != result.scorer_version:
                log.warning(
                    "calibration %s applies to %s, not %s; the base score stands",
                    version,
                    calibration.base_version,
                    result.scorer_version,
                )
                return result
            score = calibration.score(calibration_inputs(float(result.score), result.features))
            return replace(result, score=score, scorer_version=calibration.version)

        return finish


def stored_features(features: Mapping[str, float]) -> dict[str, float]:
    """The features as stored with an attempt: finite floats only (a part never seen is left out, which a
    calibration reads as average; JSON has no NaN)."""
    return {str(k): float(v) for k, v in features.items() if isinstance(v, int | float) and math.isfinite(v)}


def calibration_inputs(base_score: float, features: Mapping[str, float] | None) -> dict[str, float]:
    """A calibration's named inputs for one attempt: its base score, then its comparison features."""
    from bot.core.calibration import ANCHOR

    return {ANCHOR: base_score, **{k: float(v) for k, v in (features or {}).items()}}


def _read_calibration(path: Path) -> Calibration:
    from models.calibration import MonotoneCalibration

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FILE_FORMAT:
            raise ValueError(f"format is {document.get('format')!r}, not {FILE_FORMAT!r}")
        model = MonotoneCalibration.from_state(document["model"])
        names = tuple(str(n) for n in document["inputs"])
        if len(names) != int(model.shift.shape[0]):
            raise ValueError("the inputs do not match the model")
        return Calibration(
            version=path.stem,
            base_version=str(document["base_scorer_version"]),
            scope=str(document["scope"]),
            input_names=names,
            created_at=str(document["created_at"]),
            summary={k: document.get(k, {}) for k in ("trained_on", "held_out")},
            model=model,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnknownScorerError(f"The calibration “{path.stem}” cannot be read ({exc}).") from exc


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "?"
