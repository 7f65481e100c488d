"""What the bot says about meetings on its own, rendered for one language: announcements,
reminders, corrections, cancellations, hints, holiday shifts, and the RSVP buttons they carry.

Pure functions of rows and catalogs (no queries, no sending): `notices` queues what these
render, `live_counts` re-renders the announcement with fresh counts. Every text fits Telegram's
4096 characters; the agenda, the only long field, is cut to what the limit leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons.meetings import RsvpCb, RsvpChoice
from bot.i18n import CatalogI18n, quote
from bot.services.vn_calendar import VN_TZ, format_date, format_datetime, relative_datetime
from storage.models import Branch, Meeting
from storage.models.meetings import MeetingKind, MeetingStatus, NoticeKind, RsvpAnswer

TEXT_LIMIT = 4096
# What an answer is called once recorded (the tap's toast, the line under a private message).
ANSWERED = {RsvpAnswer.YES: "mtg.rsvp.yes", RsvpAnswer.NO: "mtg.rsvp.no"}


def cut(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[: max(room - 1, 0)] + "…"


def rsvp_markup(i18n: CatalogI18n, locale: str, meeting_id: int) -> dict[str, Any]:
    """The Có mặt / Vắng mặt buttons as the JSON an outbox row carries."""
    return {
        "inline_keyboard": [
            [
                {
                    "text": i18n.t(f"mtg.button.{key}", locale),
                    "callback_data": RsvpCb(meeting_id=meeting_id, a=choice).pack(),
                }
                for key, choice in (("yes", RsvpChoice.YES), ("no", RsvpChoice.NO))
            ]
        ]
    }


def meeting_body(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    branch: Branch,
    *,
    tz: ZoneInfo = VN_TZ,
    room: int = TEXT_LIMIT,
) -> str:
    """Kind, branch, when, where, topic and agenda; the agenda is cut to fit `room`."""
    lines = [
        i18n.t(
            "mtg.body.head",
            locale,
            kind=i18n.t(f"meetings.kind.{meeting.kind}", locale),
            branch=quote(branch.name),
        ),
        i18n.t("mtg.body.when", locale, when=format_datetime(meeting.starts_at, locale, tz)),
    ]
    if meeting.place:
        lines.append(i18n.t("mtg.body.place", locale, place=quote(meeting.place)))
    if meeting.title:
        lines.append(i18n.t("mtg.body.title", locale, title=quote(meeting.title)))
    head = "\n".join(lines)
    if meeting.agenda:
        label = i18n.t("mtg.body.agenda", locale, agenda="")
        left = room - len(head) - len(label) - 1
        raw = meeting.agenda
        agenda = quote(raw)
        while len(agenda) > left and raw:  # cut, re-escape, until it fits
            raw = raw[: max(len(raw) - (len(agenda) - left) - 1, 0)]
            agenda = quote(raw) + "…"
        head += "\n" + i18n.t("mtg.body.agenda", locale, agenda=agenda)
    return head


def meeting_preview(
    i18n: CatalogI18n,
    locale: str,
    branch: Branch,
    *,
    kind: MeetingKind,
    starts_at: datetime,
    place: str,
    agenda: str,
    tz: ZoneInfo = VN_TZ,
    room: int = TEXT_LIMIT,
) -> str:
    """The body of a meeting not saved yet (the wizard's last check)."""
    draft = Meeting(
        branch_id=branch.id,
        kind=kind,
        starts_at=starts_at,
        place=place,
        title="",
        agenda=agenda,
    )
    return meeting_body(i18n, locale, draft, branch, tz=tz, room=room)


def counts_line(i18n: CatalogI18n, locale: str, yes: int, no: int, pending: int) -> str:
    return i18n.t("mtg.counts", locale, yes=yes, no=no, pending=pending)


def _compose(top: str, body_of: Callable[[int], str], bottom: str) -> str:
    """`top` + body + `bottom`, the body given whatever room Telegram's limit leaves."""
    room = TEXT_LIMIT - len(top) - len(bottom) - 4
    return "\n\n".join(p for p in (top, body_of(room), bottom) if p)


def _body(
    i18n: CatalogI18n, locale: str, meeting: Meeting, branch: Branch, tz: ZoneInfo
) -> Callable[[int], str]:
    return lambda room: meeting_body(i18n, locale, meeting, branch, tz=tz, room=room)


def announcement_text(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    branch: Branch,
    yes: int,
    no: int,
    pending: int,
    *,
    header: str = "mtg.announce.head",
    top: str | None = None,
    closed: bool = False,
    tz: ZoneInfo = VN_TZ,
) -> str:
    """The live group message: details, the counts and the call to answer. `top` replaces the
    header (a correction keeps what changed). `closed`: the meeting has started (or has its
    report), so the counts are final and nobody is asked to answer any more."""
    bottom = counts_line(i18n, locale, yes, no, pending) + "\n"
    if closed:
        bottom += i18n.t("mtg.announce.closed", locale)
    else:
        bottom += i18n.t("mtg.announce.ask", locale)
        if branch.app_invites:
            bottom += "\n" + i18n.t("mtg.announce.app", locale)
    head = top or i18n.t(header, locale)
    return _compose(head, _body(i18n, locale, meeting, branch, tz), bottom)


def superseded_text(
    i18n: CatalogI18n, locale: str, meeting: Meeting, branch: Branch, *, tz: ZoneInfo = VN_TZ
) -> str:
    """An earlier announcement (or correction) in the group once a newer one carries the
    buttons: the meeting as it is now, and where to answer."""
    top = i18n.t("mtg.announce.head", locale) + "\n" + i18n.t("mtg.announce.superseded", locale)
    return _compose(top, _body(i18n, locale, meeting, branch, tz), "")


def cancelled_text(
    i18n: CatalogI18n, locale: str, meeting: Meeting, branch: Branch, *, tz: ZoneInfo = VN_TZ
) -> str:
    """A cancelled meeting: its reason on top of what it was."""
    reason = quote(meeting.cancel_reason or "")
    top = i18n.t("mtg.cancelled.head", locale, reason=reason)
    return _compose(top, _body(i18n, locale, meeting, branch, tz), "")


def reminder_text(
    i18n: CatalogI18n,
    locale: str,
    kind: NoticeKind,
    meeting: Meeting,
    branch: Branch,
    *,
    at: datetime,
    tz: ZoneInfo = VN_TZ,
) -> str:
    """`at`: when the reminder leaves, so the day it names is true when it is read."""
    when = relative_datetime(i18n, locale, meeting.starts_at, at, tz)
    top = (
        i18n.t(f"mtg.remind.{kind.value}", locale)
        + "\n"
        + i18n.t("mtg.remind.when", locale, when=when)
    )
    bottom = i18n.t("mtg.remind.answer", locale) if kind == NoticeKind.MEMBER_24H else ""
    return _compose(top, _body(i18n, locale, meeting, branch, tz), bottom)


def _before_answer(i18n: CatalogI18n, locale: str, shown: str) -> str:
    """A private message without its call to answer, or the answer line a previous answer
    put there instead."""
    mark = i18n.t("mtg.rsvp.your_answer", locale, answer="\x00").split("\x00", 1)[0]
    ask = "\n\n" + i18n.t("mtg.remind.answer", locale)
    return shown.split("\n\n" + mark, 1)[0].removesuffix(ask)


def _with_line(text: str, line: str) -> str:
    return cut(text, TEXT_LIMIT - len(line) - 2) + "\n\n" + line


def answered_text(i18n: CatalogI18n, locale: str, shown: str, answer: RsvpAnswer) -> str:
    """A private message with the Có mặt / Vắng mặt buttons once the member has answered
    (there, or in the group): what it said, their answer instead of the call to answer; the
    buttons stay, to change it.
    `shown`: the message's text as sent (or as the chat shows it)."""
    line = i18n.t("mtg.rsvp.your_answer", locale, answer=i18n.t(ANSWERED[answer], locale))
    return _with_line(_before_answer(i18n, locale, shown), line)


def member_reminder_now(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    branch: Branch,
    sent: str,
    answer: RsvpAnswer | None,
    *,
    current: bool,
    open_: bool,
    tz: ZoneInfo = VN_TZ,
) -> str | None:
    """A delivered private reminder ("đồng chí cho biết có tham dự…?") as it must read now;
    None when it reads right as sent (answers open, not answered yet, the same version).

    `current`: it was sent for the meeting's current version (else the meeting has moved
    since, and a newer message carries the buttons); `open_`: answers are still taken."""
    if meeting.status == MeetingStatus.CANCELLED:
        return cancelled_text(i18n, locale, meeting, branch, tz=tz)
    if open_:
        if not current:
            return superseded_text(i18n, locale, meeting, branch, tz=tz)
        return None if answer is None else answered_text(i18n, locale, sent, answer)
    if answer is None:
        line = i18n.t("mtg.announce.closed", locale)
    else:
        named = i18n.t(f"mrep.answer.{answer.value}", locale)
        line = i18n.t("mtg.remind.final", locale, answer=named)
    if not current:
        head = i18n.t("mtg.announce.head", locale)
        return _compose(head, _body(i18n, locale, meeting, branch, tz), line)
    return _with_line(_before_answer(i18n, locale, sent), line)


def correction_text(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    before: dict[str, object],
    branch: Branch,
    *,
    tz: ZoneInfo = VN_TZ,
) -> str:
    """What changed (old -> new) on top of the full current details, or the cancellation."""
    body = _body(i18n, locale, meeting, branch, tz)
    if meeting.status == MeetingStatus.CANCELLED:
        return cancelled_text(i18n, locale, meeting, branch, tz=tz)
    changes: list[str] = []
    old_start = before.get("starts_at")
    if isinstance(old_start, datetime) and old_start != meeting.starts_at:
        changes.append(
            i18n.t(
                "mtg.changed.when",
                locale,
                old=format_datetime(old_start, locale, tz),
                new=format_datetime(meeting.starts_at, locale, tz),
            )
        )
    if before.get("place") != meeting.place:
        changes.append(
            i18n.t(
                "mtg.changed.place",
                locale,
                old=quote(cut(str(before.get("place") or "—"), 256)),
                new=quote(meeting.place or "—"),
            )
        )
    if before.get("agenda") != meeting.agenda or before.get("title") != meeting.title:
        changes.append(i18n.t("mtg.changed.agenda", locale))
    if before.get("status") == MeetingStatus.CANCELLED:
        changes.append(i18n.t("mtg.changed.reinstated", locale))
    top = "\n".join([i18n.t("mtg.changed.head", locale), *changes])
    return _compose(top, body, "")


def private_chat_hint_text(i18n: CatalogI18n, locale: str, name: str, url: str) -> str:
    """ "Open a private chat with the bot", said in the group to a member it cannot write to."""
    return i18n.t("mtg.hint.private_chat", locale, name=quote(name), url=quote(url))


def shift_text(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    branch: Branch,
    shifted_from: date,
    *,
    tz: ZoneInfo = VN_TZ,
) -> str:
    """To the secretary: a holiday moved the rule's date of this month's meeting."""
    return "\n".join(
        [
            i18n.t(
                "mtg.shift.head",
                locale,
                branch=quote(branch.name),
                month=f"{meeting.period_month:02d}/{meeting.period_year}",
            ),
            i18n.t(
                "meetings.holiday_shift",
                locale,
                rule_date=format_date(shifted_from, locale),
                holiday=quote(meeting.shift_reason or ""),
                date=format_datetime(meeting.starts_at, locale, tz),
            ),
            i18n.t("mtg.shift.hint", locale),
        ]
    )
