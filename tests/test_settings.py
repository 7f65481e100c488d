"""Settings: defaults, and one clear line for every malformed value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.settings import SettingsError, load_settings

TOKEN = "123456:TEST"


def test_defaults() -> None:
    s = load_settings({"BOT_TOKEN": TOKEN})
    assert s.database_url == "sqlite+aiosqlite:///data/bot.db"
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert s.default_language == "vi"
    assert s.mode == "polling"
    assert s.admin_ids == frozenset()
    assert s.telegram_api_url is None
    assert TOKEN not in repr(s)


def test_full() -> None:
    s = load_settings(
        {
            "BOT_TOKEN": TOKEN,
            "ADMIN_IDS": "1, 22,333",
            "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
            "MODE": "webhook",
            "WEBHOOK_URL": "https://example.org/tg",
            "WEBHOOK_SECRET": "s3cret_value",
            "WEB_PORT": "9000",
            "DEFAULT_LANGUAGE": "en",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "LOG_LEVEL": "debug",
        }
    )
    assert s.admin_ids == {1, 22, 333}
    assert s.telegram_api_url == "http://127.0.0.1:8081"
    assert s.web_port == 9000
    assert s.log_level == "DEBUG"
    assert "s3cret_value" not in repr(s)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "nonsense"}, "BOT_TOKEN"),
        ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"BOT_TOKEN": TOKEN, "TIMEZONE": "Mars/Base"}, "TIMEZONE"),
        ({"BOT_TOKEN": TOKEN, "DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,abc"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": TOKEN, "MODE": "push"}, "MODE"),
        ({"BOT_TOKEN": TOKEN, "MODE": "webhook"}, "WEBHOOK_URL"),
        ({"BOT_TOKEN": TOKEN, "MODE": "webhook", "WEBHOOK_URL": "https://x/y"}, "WEBHOOK_SECRET"),
        ({"BOT_TOKEN": TOKEN, "WEB_PORT": "70000"}, "WEB_PORT"),
        ({"BOT_TOKEN": TOKEN, "WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"BOT_TOKEN": TOKEN, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"BOT_TOKEN": TOKEN, "REDIS_URL": "localhost"}, "REDIS_URL"),
        ({"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL"),
    ],
)
def test_bad_setting_names_itself(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert info.value.name == name
    assert str(info.value).startswith(f"{name}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("ids", ["²", "١٢٣", "99999999999999999999999", "-5"])
def test_isdigit_class_admin_ids_beyond_ascii_digits_are_a_settings_error(ids: str) -> None:
    with pytest.raises(SettingsError, match="ADMIN_IDS"):
        load_settings({"BOT_TOKEN": "123456:TEST", "ADMIN_IDS": ids})


def test_clock_start_shifts_the_clock_only_with_a_local_bot_api() -> None:
    here = load_settings(
        {
            "BOT_TOKEN": "1:A",
            "TELEGRAM_API_URL": "http://127.0.0.1:8081",
            "CLOCK_START": "2027-02-08T23:30:00+07:00",
        }
    )
    assert here.clock_start == datetime(2027, 2, 8, 16, 30, tzinfo=UTC)
    for api in ("https://api.telegram.org", None):
        env = {"BOT_TOKEN": "1:A", "CLOCK_START": "2027-02-08T23:30:00+07:00"}
        if api:
            env["TELEGRAM_API_URL"] = api
        with pytest.raises(SettingsError, match="CLOCK_START"):
            load_settings(env)
    with pytest.raises(SettingsError, match="CLOCK_START"):  # a date without its zone
        load_settings(
            {
                "BOT_TOKEN": "1:A",
                "TELEGRAM_API_URL": "http://localhost:1",
                "CLOCK_START": "2027-02-08",
            }
        )
