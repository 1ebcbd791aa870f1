"""MediaPipe's C++ code logs warnings straight to file descriptor 2 and honours no setting to stop it.

`silence_native_stderr()` points descriptor 2 at /dev/null for the whole process and gives Python's
`sys.stderr` (logging, progress bars, error lines) a private copy of the real stderr, so only our own
messages reach the terminal. Call it once at process start (CLI, worker processes), never in a library.
"""

from __future__ import annotations

import logging
import os
import sys

_done = False


def silence_native_stderr() -> None:
    """Send native (C/C++) writes to stderr to /dev/null; Python's stderr keeps the real one."""
    global _done
    if _done:
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # no stderr at all (daemon): nothing to protect
        return
    stream = os.fdopen(real, "w", buffering=1, encoding="utf-8", errors="replace")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(stream)
    sys.stderr = stream
    _done = True
