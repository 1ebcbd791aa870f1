"""Writing a file so that it appears whole or not at all: the one way the engine writes its outputs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """A temporary path beside `out` to write to; it becomes `out` (one rename) when the block ends without
    an error, and any failure leaves nothing behind. Readers never see a partial file.

    The temporary name is unique per process and call (`.NAME.PID.RANDOM.partSUFFIX`), so concurrent
    writers of the same file never mix, and keeps the suffix for tools that choose a format by it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part{out.suffix}")
    try:
        yield tmp
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
