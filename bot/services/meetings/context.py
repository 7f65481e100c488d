"""What a meeting use case needs besides the database: the time, and how to word its notices.

Every use case that changes a meeting queues the messages it causes itself, so it must be able
to render them: the catalogs, the language groups are written in, and the local zone. Handlers
and jobs build one from the settings; tests build one with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services.vn_calendar import VN_TZ, to_local


@dataclass(frozen=True)
class MeetingContext:
    clock: Clock
    i18n: CatalogI18n
    default_locale: str = "vi"  # groups read the bot's default language
    tz: ZoneInfo = VN_TZ

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """Today in the local zone: the first day a person may choose."""
        return to_local(self.clock.now(), self.tz).date()
