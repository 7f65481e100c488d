"""What every use case needs besides the database: the time, and how to word its notices.

Use cases of every feature (meetings, rosters, broadcasts, feedback, nudges, imports) queue the
messages they cause themselves, so each must be able to render them: the catalogs, the
language groups are written in, and the local zone. It lives beside the features, not inside
one of them, because none owns it. The dispatcher makes one and hands it to handlers as `ctx`;
jobs read it from `JobContext.services`; tests build one with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services.vn_calendar import VN_TZ, to_local


@dataclass(frozen=True)
class ServiceContext:
    clock: Clock
    i18n: CatalogI18n
    default_locale: str = "vi"  # groups read the bot's default language
    tz: ZoneInfo = VN_TZ

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """Today in the local zone: the first day a person may choose."""
        return to_local(self.clock.now(), self.tz).date()
