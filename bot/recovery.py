"""What a bot process claims when it starts, and what it cleans up after a predecessor that died.

- `DataDirLock`: one bot process per data directory (an advisory lock on `<data dir>/bot.lock`, released by
  the kernel however the process ends): a second one stops at once with a clear line, instead of fighting
  the first for the same chat updates, port and work files. It also makes "my data directory" a safe key
  for crash recovery: a job still running for this home belongs to a process that is gone.
- `sweep_work`: removes the uploads a dead process left in the work folder.
- `tell_lost_users`: tells each user whose job died with the process, where they were watching it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.core.models import LostJob
from bot.errors import StartError
from bot.replies import describe_lost_job

logger = logging.getLogger(__name__)

Notify = Callable[[dict[str, Any], str], Awaitable[None]]  # (the job's notice, the text) -> told the user


class DataDirLock:
    """`with DataDirLock(data_dir):` holds the data directory for this process; raises StartError if another
    process holds it (naming its pid)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "bot.lock"
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartError(
                f"Another DanceScore bot (pid {holder}) is already running with the data directory "
                f"{self.data_dir.resolve()}: stop it first, or give this one its own DANCESCORE_DATA_DIR."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def sweep_work(work_dir: Path) -> int:
    """Remove everything in the work folder (uploads of jobs that died with an earlier process); returns
    how many entries went. Only call it while holding the data directory."""
    if not Path(work_dir).is_dir():
        return 0
    swept = 0
    for entry in Path(work_dir).iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        swept += 1
    if swept:
        logger.warning("removed %d upload(s) left in %s by a process that stopped without cleaning up", swept, work_dir)
    return swept


async def tell_lost_users(lost: Iterable[LostJob], notifiers: dict[str, Notify]) -> int:
    """Tell each user whose job died that the video must be sent again, on the platform they used (by
    editing the message that showed its progress, where the platform allows). Returns how many were told."""
    told = 0
    for job in lost:
        notify = notifiers.get(job.platform)
        if notify is None or job.notice is None:
            logger.warning("job %d on %s died and its user cannot be told (platform not running)", job.id, job.platform)
            continue
        try:
            await notify(job.notice, describe_lost_job(job))
            told += 1
        except Exception as error:
            logger.warning("could not tell the user of job %d that it died: %s", job.id, error)
    return told
