"""Pure text handling: dance-name keys and fuzzy matching, chat durations, settings from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, SecretStr, Settings
from bot.core.durations import parse_duration
from bot.core.errors import InvalidInputError, TooLargeError, UnknownDanceError
from bot.core.models import Season
from bot.core.names import NameMatch, clean_name, count_edits, match_name, normalise_name

NAMES = [("renegade", 1, "Renegade"), ("savagelove", 2, "Savage Love"), ("sayso", 3, "Say So")]


def test_name_keys_ignore_case_spaces_punctuation_and_accents() -> None:
    assert normalise_name("Say So") == normalise_name("say-so") == normalise_name("  SAY   so ") == "sayso"
    assert normalise_name("Café Dance") == "cafedance"
    assert clean_name("  Savage   Love ") == "Savage Love"
    for bad in ("", "   ", "!!", "x" * 41, "tab\x07bell"):
        with pytest.raises(InvalidInputError):
            clean_name(bad)


def test_fuzzy_match_resolves_clear_typos_and_suggests_otherwise() -> None:
    assert count_edits("renegade", "rengeade") == 1  # adjacent swap
    assert match_name("renegad", NAMES).target == 1
    assert match_name("savage lov", NAMES).target == 2
    assert match_name("SAY SO", NAMES).target == 3
    # "say" is close to two names: no guess, both suggested
    unclear = match_name("sa", NAMES)
    assert unclear.target is None
    assert match_name("macarena", NAMES).suggestions == ()
    assert match_name("savagelovers", NAMES).target == 2  # two edits on a long name
    assert match_name("svg love", NAMES) == NameMatch(None, ("Savage Love",))


def test_unknown_dance_message_lists_suggestions() -> None:
    assert str(UnknownDanceError("renegde", ["Renegade", "Savage"])) == (
        "There is no dance called “renegde” here. Did you mean “Renegade”, “Savage”?"
    )
    assert "This video is 4.5 MiB; the most I can score is 1 MiB." in str(TooLargeError(9 * 2**19, 2**20))


def test_durations_read_like_chat() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1d 12h") == timedelta(days=1, hours=12)
    assert parse_duration("1w") == timedelta(weeks=1)
    for bad in ("tomorrow", "3 parsecs", "", "2h later"):
        with pytest.raises(InvalidInputError, match="not a duration"):
            parse_duration(bad)


def test_settings_from_environment_and_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# local settings\nexport DANCESCORE_RATE_LIMIT=3\nDANCESCORE_SEASON='weekly'\n"
        'TELEGRAM_TOKEN="123:secret-token"\nDANCESCORE_MAX_MB=50\n'
    )
    settings = Settings.from_env({"DANCESCORE_RATE_LIMIT": "7", "DANCESCORE_DATA_DIR": str(tmp_path)}, env_file)
    assert settings.limits.rate_limit == 7  # the environment wins over the file
    assert settings.season is Season.WEEKLY and settings.limits.max_bytes == 50 * 2**20
    assert settings.db_url == f"sqlite+aiosqlite:///{tmp_path / 'dancescore.db'}"
    assert settings.telegram_token is not None and settings.telegram_token.reveal() == "123:secret-token"
    assert settings.discord_token is None
    assert "secret-token" not in repr(settings) and "secret-token" not in f"{settings.telegram_token}"

    defaults = Settings.from_env({}, None)
    assert defaults.db_url == "sqlite+aiosqlite:///data/dancescore.db" and defaults.limits.rate_limit == 10
    with pytest.raises(ConfigError, match="DANCESCORE_RATE_LIMIT must be a number"):
        Settings.from_env({"DANCESCORE_RATE_LIMIT": "lots"}, None)
    with pytest.raises(ConfigError, match="monthly, weekly or none"):
        Settings.from_env({"DANCESCORE_SEASON": "yearly"}, None)
    bad_file = tmp_path / "bad.env"
    bad_file.write_text("just words\n")
    with pytest.raises(ConfigError, match="line 1"):
        Settings.from_env({}, bad_file)
    assert repr(SecretStr("x")) == "SecretStr('**********')"


def test_score_breakdown_is_stored_as_plain_json() -> None:
    import numpy as np

    from bot.core.service import simplify_json

    assert simplify_json({"score": np.float32(7.5), "frames": {"n": np.int64(3)}}) == {"score": 7.5, "frames": {"n": 3}}


def test_the_pose_backend_is_chosen_in_the_environment() -> None:
    assert Settings.from_env({}, None).pose_backend == "auto"
    assert Settings.from_env({"DANCESCORE_POSE_BACKEND": "Torch"}, None).pose_backend == "torch"
    with pytest.raises(ConfigError, match="DANCESCORE_POSE_BACKEND must be one of auto, mediapipe, torch"):
        Settings.from_env({"DANCESCORE_POSE_BACKEND": "openpose"}, None)
