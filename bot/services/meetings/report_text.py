"""How a meeting report reads: the post to the unit's group, the wizard's summary, /meeting ID.

Presentation only (catalog texts in a named language, user text escaped); the services that
queue the group post and the handlers that show the summary both render through here, so a
report looks the same wherever it is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.i18n import CatalogI18n, quote
from bot.services.vn_calendar import format_datetime
from storage.models import Meeting, MeetingReport

# Room kept under Telegram's 4096 characters for what is added after fitting (a footer line).
FIT_LIMIT = 3900
# (names, conclusion, list items, item width): tried in order until the report fits.
_CAPS = (
    (60, 3000, 20, 1000),
    (30, 1500, 20, 300),
    (20, 1000, 10, 200),
    (10, 600, 5, 120),
    (5, 300, 3, 80),
)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking the cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def kind_label(i18n: CatalogI18n, locale: str, meeting: Meeting) -> str:
    """'Sinh hoạt chuyên đề: <title>' (the title escaped)."""
    label = i18n.t(f"meetings.kind.{meeting.kind}", locale)
    if meeting.title:
        label = f"{label}: {quote(clip(meeting.title, 80))}"
    return label


@dataclass(frozen=True)
class ReportView:
    """A report's content as people read it (a stored version or a draft)."""

    branch_name: str
    meeting: Meeting
    version: int
    held: bool
    present: int
    members: int
    absent: Sequence[tuple[str, bool]]  # (name, excused)
    minutes_kept: bool
    has_file: bool
    resolution: str
    topics: Sequence[str]
    proposals: Sequence[str]


def absent_pairs(
    i18n: CatalogI18n, locale: str, absent: Sequence[Mapping[str, object]], names: Mapping[int, str]
) -> list[tuple[str, bool]]:
    """(name, excused) of a stored report's absences; a member who left is named as such."""
    unknown = i18n.t("mrep.report.former_member", locale)
    return [(names.get(int(str(a["member_id"])), unknown), bool(a.get("excused"))) for a in absent]


def stored_view(
    i18n: CatalogI18n,
    locale: str,
    report: MeetingReport,
    *,
    branch_name: str,
    meeting: Meeting,
    members: int,
    names: Mapping[int, str],
    version: int | None = None,
) -> ReportView:
    """The view of a stored version (its own version number unless told)."""
    return ReportView(
        branch_name=branch_name,
        meeting=meeting,
        version=report.version if version is None else version,
        held=report.held,
        present=report.present_count,
        members=members,
        absent=absent_pairs(i18n, locale, report.absent, names),
        minutes_kept=report.minutes_kept,
        has_file=report.minutes_file_id is not None,
        resolution=report.resolution,
        topics=report.topics,
        proposals=report.proposals,
    )


def report_text(i18n: CatalogI18n, locale: str, view: ReportView) -> str:
    """A report, always within Telegram's 4096 characters: long parts are clipped first, then
    list items dropped from the end with a "… and N more" line."""
    text = ""
    for caps in _CAPS:
        text = _render(i18n, locale, view, *caps)
        if len(text) <= FIT_LIMIT:
            return text
    return clip(text, FIT_LIMIT)


def _render(
    i18n: CatalogI18n,
    locale: str,
    v: ReportView,
    name_cap: int,
    res_cap: int,
    item_cap: int,
    width: int,
) -> str:
    def t(key: str, **params: object) -> str:
        return i18n.t(key, locale, **params)

    def more(shown: list[str], total: int, cap: int) -> list[str]:
        return [*shown, t("mrep.report.more", n=total - cap)] if total > cap else shown

    def names(items: Sequence[str]) -> str:
        return ", ".join(more([quote(n) for n in items[:name_cap]], len(items), name_cap))

    def bullets(items: Sequence[str]) -> str:
        shown = [f"• {quote(clip(i, width))}" for i in items[:item_cap]]
        return "\n".join(more(shown, len(items), item_cap))

    head_key = "mrep.report.header" if v.version <= 1 else "mrep.report.header_correction"
    lines = [
        t(
            head_key,
            branch=quote(v.branch_name),
            kind=kind_label(i18n, locale, v.meeting),
            when=format_datetime(v.meeting.starts_at, locale),
            version=v.version,
        )
    ]
    if not v.held:
        lines.append(t("mrep.report.not_held"))
    else:
        excused = [n for n, e in v.absent if e]
        unexcused = [n for n, e in v.absent if not e]
        lines.append(
            t(
                "mrep.report.present",
                present=v.present,
                members=v.members,
                absent=len(v.absent),
                excused=len(excused),
            )
        )
        if excused:
            lines.append(t("mrep.report.absent_excused", names=names(excused)))
        if unexcused:
            lines.append(t("mrep.report.absent_unexcused", names=names(unexcused)))
    if v.has_file:
        lines.append(t("mrep.report.minutes_file"))
    else:
        lines.append(t("mrep.report.minutes_yes" if v.minutes_kept else "mrep.report.minutes_no"))
    if v.resolution.strip():
        lines.append(t("mrep.report.resolution", text=quote(clip(v.resolution, res_cap))))
    if v.topics:
        lines.append(t("mrep.report.topics", items=bullets(v.topics)))
    if v.proposals:
        lines.append(t("mrep.report.proposals", items=bullets(v.proposals)))
    return "\n".join(lines)


def minutes_caption(i18n: CatalogI18n, locale: str, branch_name: str) -> str:
    return i18n.t("mrep.report.minutes_caption", locale, branch=quote(clip(branch_name, 200)))
