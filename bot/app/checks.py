"""`python -m bot check`: is this installation ready to run?"""

from __future__ import annotations

import sys

from sqlalchemy import text

from bot.app import create_bot
from bot.settings import SettingsError, load_settings
from storage.db import create_engine


def _line(ok: bool, what: str, detail: str = "") -> None:
    print(f"{'OK  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")


async def run_checks() -> int:
    failed = False
    try:
        settings = load_settings()
    except SettingsError as exc:
        _line(False, "settings", str(exc))
        return 1
    _line(True, "settings", f"mode={settings.mode} timezone={settings.timezone}")

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        _line(True, "database", engine.url.render_as_string(hide_password=True))
    except Exception as exc:  # noqa: BLE001 - report any failure as FAIL
        failed = True
        _line(False, "database", f"{type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()

    bot = create_bot(settings)
    try:
        me = await bot.get_me()
        _line(True, "telegram token", f"@{me.username} (id {me.id})")
    except Exception as exc:  # noqa: BLE001
        failed = True
        _line(False, "telegram token", f"{type(exc).__name__}: {exc}")
    finally:
        await bot.session.close()
    sys.stdout.flush()
    return 1 if failed else 0
