"""Logging of the `dancescore` process: one line per record, each with its time, secrets redacted.

Redaction happens where lines are written, in the handlers' formatter, on the finished text (message,
arguments, traceback): no library can leak a secret by logging a URL that carries it. A secret is replaced in
every form it takes in such text: as it is, percent-encoded once or twice (`123%3AAAH…`), and, for a bot
token (`<bot id>:<secret>`), its secret half on its own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "<redacted>"
# Libraries that log a line per HTTP request (python-telegram-bot's long poll makes one every 10 s when idle).
CHATTY_LOGGERS = ("httpx", "httpcore")
_MIN_SECRET = 8  # shorter fragments would redact ordinary words


def secret_forms(secret: str) -> list[str]:
    """Every form of `secret` to take out of a log line, longest first."""
    forms = set()
    for value in (secret, secret.partition(":")[2]):
        if len(value) < _MIN_SECRET:
            continue
        once = quote(value, safe="")
        forms |= {value, once, quote_plus(value), quote(once, safe=""), once.lower()}
    return sorted(forms, key=len, reverse=True)


class RedactingFormatter(logging.Formatter):
    """Formats with `inner` (or `LINE_FORMAT`), then replaces every form of every secret it was given."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter(LINE_FORMAT)
        self._forms: list[str] = []

    def add_secrets(self, secrets: Iterable[str]) -> None:
        forms = set(self._forms)
        for secret in secrets:
            forms.update(secret_forms(secret))
        self._forms = sorted(forms, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text


def configure_logging(level: int) -> None:
    """One handler on stderr, lines with their time, libraries' per-request lines off unless debugging."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)


def redact(secrets: Iterable[str]) -> None:
    """Keep `secrets` out of every line the root logger's handlers write from now on."""
    secrets = [s for s in secrets if s]
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if not isinstance(formatter, RedactingFormatter):
            formatter = RedactingFormatter(formatter)
            handler.setFormatter(formatter)
        formatter.add_secrets(secrets)
