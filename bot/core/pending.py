"""Scored attempts waiting for the database: one JSON file each, written when the store stays unreachable
after a finished analysis, so the result is never thrown away; replayed once the database answers again."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.models import Caller
from bot.core.ports import AttemptRecord

log = logging.getLogger(__name__)


class PendingAttempts:
    """The folder of attempts to record later (`<job id>.json`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def put(self, record: AttemptRecord) -> Path:
        """Keep `record` until it is recorded (atomically: a crash leaves the old file or the new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{record.job_id}.json"
        data = dataclasses.asdict(record)
        for key in ("submitted_at", "recorded_at"):
            data[key] = data[key].isoformat()
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
        return path

    def items(self) -> list[tuple[Path, AttemptRecord]]:
        """Every waiting record, oldest job first; an unreadable file is logged and left for an operator."""
        found = []
        for path in sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if self.folder.is_dir() else []:
            try:
                found.append((path, _record_of(json.loads(path.read_text(encoding="utf-8")))))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.error("pending attempt %s cannot be read (%s); left in place", path, exc)
        return found


def _record_of(data: dict[str, Any]) -> AttemptRecord:
    data["caller"] = Caller(**data["caller"])
    for key in ("submitted_at", "recorded_at"):
        data[key] = datetime.fromisoformat(data[key])
    return AttemptRecord(**data)
