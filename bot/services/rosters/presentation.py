"""How a roster reads: the table, coverage figures, the shortfall in plain words, file labels.

Plain functions over rows and catalogs, used by the notices the services queue and by the
screens the handlers show, so the leader's review and the group's post say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import CatalogI18n
from bot.services.rosters.common import Quarter
from bot.services.rosters.files import SheetLabels, VisitRow
from bot.services.vn_calendar import (
    VN_TZ,
    format_datetime,
    format_quarter,
    format_time,
    to_local,
)
from storage.models import Branch, Member, Roster, RosterVisit, WorkingGroup

TEXT_LIMIT = 4000
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def quarter_label(i18n: CatalogI18n, locale: str, quarter: Quarter) -> str:
    """'quý IV/2026' (`format_quarter`, the one formatter of quarters)."""
    return format_quarter(quarter.year, quarter.quarter, locale)


def when(start: datetime, locale: str, tz: ZoneInfo = VN_TZ) -> str:
    """Thứ Năm, 03/12/2026 lúc 19:30 / Thursday, 03/12/2026 at 19:30 (`format_datetime`)."""
    return format_datetime(start, locale, tz)


def visit_rows(
    visits: Sequence[RosterVisit],
    branches: Mapping[int, Branch],
    members: Mapping[int, Member],
    agendas: Mapping[int, str] | None = None,
    places: Mapping[int, str] | None = None,
) -> list[VisitRow]:
    rows = []
    for v in visits:
        branch = branches[v.branch_id]
        member = members[v.visitor_member_id]
        place = (places or {}).get(v.id) or branch.location or ""
        rows.append(
            VisitRow(
                visit_id=v.id,
                branch_code=branch.code,
                branch_name=branch.name,
                start=v.starts_at,
                place=place,
                visitor_code=member.code,
                visitor_name=member.full_name,
                agenda=(agendas or {}).get(v.id, ""),
            )
        )
    return sorted(rows, key=lambda r: (r.start, r.branch_code, r.visitor_code))


def table(
    i18n: CatalogI18n,
    locale: str,
    rows: Sequence[VisitRow],
    *,
    tz: ZoneInfo = VN_TZ,
    room: int = TEXT_LIMIT,
    with_visitor: bool = True,
) -> str:
    """One line per visit, cut to fit `room` with "… and N more (see the file)"."""
    lines: list[str] = []
    used = 0
    for i, row in enumerate(rows):
        line = i18n.t(
            "roster.row" if with_visitor else "roster.row_own",
            locale,
            when=when(row.start, locale, tz),
            branch=escape(row.branch_name),
            place=escape(row.place or "—"),
            visitor=escape(row.visitor_name),
        )
        if used + len(line) + 120 > room:
            lines.append(i18n.t("roster.more", locale, n=len(rows) - i))
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) if lines else i18n.t("roster.empty", locale)


def reason_text(
    i18n: CatalogI18n,
    locale: str,
    group: WorkingGroup,
    item: Mapping[str, Any],
    branches: Mapping[int, Branch],
    *,
    tz: ZoneInfo = VN_TZ,
) -> str:
    """One uncovered meeting's reason ("Tổ 3: ngày 03/01 lúc 19:30 có 7 chi bộ họp cùng lúc
    nhưng tổ chỉ có 5 người đi được")."""
    local = to_local(datetime.fromisoformat(item["start"]), tz)
    branch = branches.get(item["branch_id"])
    return i18n.t(
        f"roster.reason.{item['reason']}",
        locale,
        group=escape(group.name),
        branch=escape(branch.name) if branch else "?",
        date=local.strftime("%d/%m"),
        time=format_time(local.time()),
        meetings=item["meetings"],
        people=item["people"],
    )


def shortfall_lines(
    i18n: CatalogI18n,
    locale: str,
    group: WorkingGroup,
    roster: Roster,
    branches: Mapping[int, Branch],
    members: Mapping[int, Member],
    *,
    tz: ZoneInfo = VN_TZ,
) -> list[str]:
    """Why branches stay uncovered, in words a secretary understands, then what would fix it.
    A crowded evening is said once, not once per branch it leaves out."""
    lines: list[str] = []
    told_clusters: set[tuple[str, int]] = set()
    for item in roster.uncovered:
        if item["reason"] == "crowded":
            cluster = (item["start"], item["meetings"])
            if cluster in told_clusters:
                continue
            told_clusters.add(cluster)
        lines.append("• " + reason_text(i18n, locale, group, item, branches, tz=tz))
    for move in roster.suggestions.get("moves", []):
        branch = branches.get(move["branch_id"])
        lines.append(
            "→ "
            + i18n.t(
                "roster.fix.move",
                locale,
                branch=escape(branch.name) if branch else "?",
                before=when(datetime.fromisoformat(move["from"]), locale, tz),
                after=when(datetime.fromisoformat(move["to"]), locale, tz),
            )
        )
    for helper in roster.suggestions.get("helpers", [])[:5]:
        names = [members[m].full_name for m in helper["member_ids"][:3] if m in members]
        branch_id = next(
            (u["branch_id"] for u in roster.uncovered if u["slot"] == helper["slot"]), None
        )
        branch = branches.get(branch_id) if branch_id is not None else None
        if names and branch is not None:
            lines.append(
                "→ "
                + i18n.t(
                    "roster.fix.helpers",
                    locale,
                    branch=escape(branch.name),
                    names=escape(", ".join(names)),
                )
            )
    return lines


def sheet_labels(
    i18n: CatalogI18n, locale: str, quarter: Quarter, group: WorkingGroup
) -> SheetLabels:
    return SheetLabels(
        title=i18n.t(
            "roster.sheet.title",
            locale,
            quarter=quarter_label(i18n, locale, quarter),
            group=group.name,
        ),
        number=i18n.t("roster.sheet.number", locale),
        branch=i18n.t("roster.sheet.branch", locale),
        weekday=i18n.t("roster.sheet.weekday", locale),
        date=i18n.t("roster.sheet.date", locale),
        time=i18n.t("roster.sheet.time", locale),
        place=i18n.t("roster.sheet.place", locale),
        visitor=i18n.t("roster.sheet.visitor", locale),
        sheet=str(quarter),
    )


def file_name(quarter: Quarter, group: WorkingGroup, ext: str) -> str:
    return f"lich-du-sinh-hoat-{quarter}-{group.code}.{ext}".lower()
