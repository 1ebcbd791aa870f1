"""The one place that reads environment variables (and an optional `.env` file).

Variables (all optional):
    DANCESCORE_DATA_DIR            where the database, reference poses and clips live (default ./data)
    DANCESCORE_DB_URL              sqlite+aiosqlite:///path.db (default: <data dir>/dancescore.db)
                                   or postgresql+asyncpg://user@host:5432/db
    DANCESCORE_RATE_LIMIT          videos per user per window (default 10)
    DANCESCORE_RATE_WINDOW_S       the rate-limit window in seconds (default 3600)
    DANCESCORE_MAX_DURATION_S      longest video accepted, seconds (default 180)
    DANCESCORE_MAX_MB              largest video accepted, MiB (default 200)
    DANCESCORE_SEASON              default season for new communities: monthly, weekly or none
    DISCORD_TOKEN, TELEGRAM_TOKEN  bot tokens (secret: never shown in repr or logs)
    TELEGRAM_API_URL               Bot API server base URL (default https://api.telegram.org)
    DANCESCORE_ENGINE_POOL         where scoring runs: local (worker processes, default) or ray
    DANCESCORE_WORKERS             engine workers (default: one per CPU core, each using a GPU when there are any)
    DANCESCORE_POSE_BACKEND        pose estimator: auto (default: torch on a GPU, else mediapipe), mediapipe, torch
    DANCESCORE_RAY_ADDRESS         the Ray cluster to join (ray://head:10001, or auto); default: a local one
    DANCESCORE_OPS_PORT            port of /healthz and /metrics on 127.0.0.1 (default 9108; off to disable)
    DANCESCORE_RETENTION_DAYS      days rendered clips and score cards are kept (default 30; off: forever)
Values already in the environment win over the `.env` file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.models import Limits, Season


class ConfigError(ValueError):
    """A setting is malformed; the message names the variable and what it should look like."""


class SecretStr:
    """A secret that never shows itself in `repr`, `str` or f-strings; `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    db_url: str = "sqlite+aiosqlite:///data/dancescore.db"
    limits: Limits = field(default_factory=Limits)
    season: Season = Season.MONTHLY
    discord_token: SecretStr | None = None
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    engine_pool: str = "local"
    workers: int | None = None
    pose_backend: str = "auto"
    ray_address: str | None = None
    ops_port: int | None = 9108
    retention_days: float | None = 30.0

    @property
    def media_dir(self) -> Path:
        """Reference dances (poses and videos) and the clips and cards rendered for attempts."""
        return self.data_dir / "media"

    @property
    def work_dir(self) -> Path:
        """Uploads being scored; nothing in it outlives the process that made it."""
        return self.data_dir / "work"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def secrets(self) -> list[str]:
        """The secret values, for the log's redaction (`bot.logs`)."""
        return [token.reveal() for token in (self.discord_token, self.telegram_token) if token]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
        """Read the settings from `environ` (default: os.environ) over the `.env` file, if it exists."""
        values = dict(read_env_file(env_file)) if env_file is not None and env_file.is_file() else {}
        values.update(os.environ if environ is None else environ)
        data_dir = Path(values.get("DANCESCORE_DATA_DIR") or "data")
        db_url = values.get("DANCESCORE_DB_URL") or f"sqlite+aiosqlite:///{data_dir / 'dancescore.db'}"
        limits = Limits(
            max_duration_s=_number(values, "DANCESCORE_MAX_DURATION_S", 180.0),
            max_bytes=int(_number(values, "DANCESCORE_MAX_MB", 200.0) * 2**20),
            rate_limit=int(_number(values, "DANCESCORE_RATE_LIMIT", 10)),
            rate_window_s=_number(values, "DANCESCORE_RATE_WINDOW_S", 3600.0),
        )
        season_text = (values.get("DANCESCORE_SEASON") or "monthly").strip().lower()
        try:
            season = Season(season_text)
        except ValueError as exc:
            raise ConfigError(f"DANCESCORE_SEASON must be monthly, weekly or none, not “{season_text}”.") from exc
        return cls(
            data_dir=data_dir,
            db_url=db_url,
            limits=limits,
            season=season,
            discord_token=_secret(values, "DISCORD_TOKEN"),
            telegram_token=_secret(values, "TELEGRAM_TOKEN"),
            telegram_api_url=(values.get("TELEGRAM_API_URL") or "https://api.telegram.org").rstrip("/"),
            engine_pool=_choice(values, "DANCESCORE_ENGINE_POOL", ("local", "ray"), "local"),
            workers=int(_number(values, "DANCESCORE_WORKERS", 0)) or None,
            pose_backend=_choice(values, "DANCESCORE_POSE_BACKEND", ("auto", "mediapipe", "torch"), "auto"),
            ray_address=values.get("DANCESCORE_RAY_ADDRESS") or None,
            ops_port=_port(values, "DANCESCORE_OPS_PORT", 9108),
            retention_days=_days_or_off(values, "DANCESCORE_RETENTION_DAYS", 30.0),
        )


def read_env_file(path: Path) -> dict[str, str]:
    """Parse `KEY=value` lines (`#` comments, optional `export `, optional matching quotes)."""
    result: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{path}, line {number}: expected KEY=value.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        result[key.strip()] = value
    return result


def _number(values: Mapping[str, str], name: str, default: float) -> float:
    text = values.get(name)
    if not text:
        return float(default)
    try:
        number = float(text)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not “{text}”.") from exc
    if not number > 0:
        raise ConfigError(f"{name} must be above zero.")
    return number


def _choice(values: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    text = (values.get(name) or default).strip().lower()
    if text not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not “{text}”.")
    return text


def _port(values: Mapping[str, str], name: str, default: int) -> int | None:
    text = (values.get(name) or str(default)).strip().lower()
    if text == "off":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{name} must be a port number (1-65535) or off, not “{text}”.")
    return int(text)


def _days_or_off(values: Mapping[str, str], name: str, default: float) -> float | None:
    text = (values.get(name) or "").strip().lower()
    if text == "off":
        return None
    return _number(values, name, default)


def _secret(values: Mapping[str, str], name: str) -> SecretStr | None:
    text = (values.get(name) or "").strip()
    return SecretStr(text) if text else None
