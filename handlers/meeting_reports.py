"""/report: the secretary's (or deputy's) meeting report, in a few taps, in private.

The walk: pick the meeting (when several are reportable) → held? → present count (prefilled
from the "Có mặt" answers, −/+ or typed) → absent members (prefilled from the "Vắng mặt"
answers, toggled: excused → not excused → present, paginated) → minutes (upload a photo, PDF or
DOCX, or say kept / not kept) → conclusion → topics → proposals → summary → send. Every step is
prefilled, so the common case is a row of "Next" taps. From the summary any part can be edited.

The draft lives in the FSM (JSON only); the services decide everything (permission, the meeting
has started, no second first report, the 7-day correction window) on submission, so a stale or
forged button can never change another branch's meeting. The report then goes to the unit's
linked group through the outbox, with the minutes file after it.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router, html
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import meeting_views as views
from bot.services import meetings as svc
from bot.services.meetings import AbsentEntry, MeetingError, ReportInput
from bot.services.meetings.common import (
    FILE_ID_MAX,
    LIST_ITEMS_MAX,
    PROPOSAL_MAX,
    RESOLUTION_MAX,
    TOPIC_MAX,
    load_meeting,
)
from bot.services.policy import Refused, load_actor
from bot.services.vn_calendar import format_datetime
from bot.settings import Settings
from handlers.meetings_view import (
    clip,
    current_locale,
    kind_label,
    report_text,
    tr_current,
    tr_for,
)
from handlers.people import alert_text, refuse, refused_text
from storage.models import Meeting, MeetingReport

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

ABSENT_PAGE = 8
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NOT_COMMAND = ~F.text.startswith("/")


class Report(StatesGroup):
    HELD = State()
    PRESENT = State()
    ABSENT = State()
    MINUTES = State()
    RESOLUTION = State()
    TOPICS = State()
    PROPOSALS = State()
    CONFIRM = State()


class RepPick(CallbackData, prefix="mrp"):
    """Start (or correct) the report of one meeting: the id is re-checked by the services."""

    mid: int


class RepCb(CallbackData, prefix="mrw"):
    """A wizard button; `mid` ties it to the draft it was shown for (stale buttons refused)."""

    mid: int
    a: str
    v: int = 0


# --- the draft -------------------------------------------------------------------------------


def _draft_from(meeting: Meeting, data: ReportInput, mode: str, members: int) -> dict[str, Any]:
    return {
        "mid": meeting.id,
        "mode": mode,
        "members": members,
        "held": data.held,
        "present": data.present_count,
        "absent": {
            str(a.member_id): [a.reason_code, a.reason_text, a.excused] for a in data.absent
        },
        "minutes": data.minutes_kept,
        "fid": data.minutes_file_id,
        "fkind": data.minutes_file_kind,
        "res": data.resolution,
        "topics": list(data.topics),
        "props": list(data.proposals),
        "walked": False,
        "page": 0,
    }


def _input_of(d: dict[str, Any]) -> ReportInput:
    return ReportInput(
        held=d["held"],
        present_count=d["present"],
        absent=tuple(
            AbsentEntry(int(mid), code, text or "", bool(excused))
            for mid, (code, text, excused) in d["absent"].items()
        )
        if d["held"]
        else (),
        minutes_kept=d["minutes"],
        minutes_file_id=d["fid"],
        minutes_file_kind=d["fkind"],
        resolution=d["res"],
        topics=tuple(d["topics"]),
        proposals=tuple(d["props"]),
    )


def _max_present(d: dict[str, Any]) -> int:
    return max(d["members"] - len(d["absent"]), 0)


def _btn(text: str, mid: int, action: str, value: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=RepCb(mid=mid, a=action, v=value).pack())


def _nav(mid: int, *, keep_key: str = "mrep.w.next") -> list[InlineKeyboardButton]:
    return [_btn(_(keep_key), mid, "next"), _btn(_("mrep.w.cancel"), mid, "quit")]


# --- rendering each step --------------------------------------------------------------------


async def _render(
    state: FSMContext, session: AsyncSession, actor_meeting: Meeting
) -> tuple[str, InlineKeyboardMarkup]:
    """The current step's text and buttons, from the draft."""
    d = await state.get_data()
    step = await state.get_state()
    mid = d["mid"]
    t, locale = tr_current(), current_locale()
    head = t(
        "mrep.w.head",
        kind=kind_label(t, actor_meeting),
        when=format_datetime(actor_meeting.starts_at, locale),
    )
    if d["mode"] == "correct":
        head += "\n" + t("mrep.w.correcting")
    rows: list[list[InlineKeyboardButton]] = []
    if step == Report.HELD.state:
        body = t("mrep.w.held")
        rows = [
            [_btn(t("mrep.w.held_yes"), mid, "held", 1), _btn(t("mrep.w.held_no"), mid, "held", 0)],
            [_btn(t("mrep.w.cancel"), mid, "quit")],
        ]
    elif step == Report.PRESENT.state:
        body = t("mrep.w.present", present=d["present"], members=d["members"])
        rows = [
            [
                _btn("−1", mid, "pdec"),
                _btn("+1", mid, "pinc"),
                _btn(t("mrep.w.present_all", n=_max_present(d)), mid, "pall"),
            ],
            _nav(mid),
        ]
    elif step == Report.ABSENT.state:
        names = await views.member_names(session, actor_meeting.branch_id)
        ids = list(names)
        pages = max(1, -(-len(ids) // ABSENT_PAGE))
        page = min(d["page"], pages - 1)
        body = t(
            "mrep.w.absent",
            absent=len(d["absent"]),
            present=d["present"],
            page=page + 1,
            pages=pages,
        )
        for member_id in ids[page * ABSENT_PAGE : (page + 1) * ABSENT_PAGE]:
            entry = d["absent"].get(str(member_id))
            if entry is None:
                mark = t("mrep.w.mark_present")
            elif entry[2]:
                mark = t("mrep.w.mark_excused")
            else:
                mark = t("mrep.w.mark_unexcused")
            label = f"{mark} {clip(names[member_id], 40)}"
            rows.append([_btn(label, mid, "tog", member_id)])
        pager = []
        if page > 0:
            pager.append(_btn(_("people.prev"), mid, "apage", page - 1))
        if page < pages - 1:
            pager.append(_btn(_("people.next"), mid, "apage", page + 1))
        if pager:
            rows.append(pager)
        rows.append(_nav(mid))
    elif step == Report.MINUTES.state:
        if d["fid"]:
            current = t("mrep.w.minutes_has_file", kind=t(f"mrep.minutes.{d['fkind']}"))
        else:
            current = t("mrep.w.minutes_yes" if d["minutes"] else "mrep.w.minutes_no")
        body = t("mrep.w.minutes", current=current)
        rows = [
            [
                _btn(t("mrep.w.minutes_kept"), mid, "mkept"),
                _btn(t("mrep.w.minutes_none"), mid, "mnone"),
            ],
            _nav(mid),
        ]
    elif step == Report.RESOLUTION.state:
        current = html.quote(clip(d["res"], 500)) if d["res"] else t("mrep.w.empty")
        body = t("mrep.w.resolution", max=RESOLUTION_MAX, current=current)
        rows = [_nav(mid, keep_key="mrep.w.keep" if d["res"] else "mrep.w.skip")]
    elif step == Report.TOPICS.state:
        body = t("mrep.w.topics", max=LIST_ITEMS_MAX, current=_list_preview(t, d["topics"]))
        rows = [_nav(mid, keep_key="mrep.w.keep" if d["topics"] else "mrep.w.skip")]
    elif step == Report.PROPOSALS.state:
        body = t("mrep.w.proposals", max=LIST_ITEMS_MAX, current=_list_preview(t, d["props"]))
        rows = [_nav(mid, keep_key="mrep.w.keep" if d["props"] else "mrep.w.skip")]
    else:
        return await _render_summary(d, session, actor_meeting)
    return f"{head}\n\n{body}", InlineKeyboardMarkup(inline_keyboard=rows)


def _list_preview(t: Any, items: list[str]) -> str:
    if not items:
        return t("mrep.w.empty")
    shown = [f"• {html.quote(clip(i, 100))}" for i in items[:10]]
    if len(items) > 10:
        shown.append(t("mrep.report.more", n=len(items) - 10))
    return "\n".join(shown)


async def _render_summary(
    d: dict[str, Any], session: AsyncSession, meeting: Meeting
) -> tuple[str, InlineKeyboardMarkup]:
    t, locale = tr_current(), current_locale()
    names = await views.member_names(session, meeting.branch_id)
    _meeting, branch = await load_meeting(session, meeting.id)
    text = report_text(
        t,
        locale,
        branch_name=branch.name,
        meeting=meeting,
        version=1,
        held=d["held"],
        present=d["present"] if d["held"] else 0,
        members=d["members"],
        absent=[(names.get(int(k), "?"), bool(v[2])) for k, v in d["absent"].items() if d["held"]],
        minutes_kept=d["minutes"],
        has_file=d["fid"] is not None,
        resolution=d["res"],
        topics=d["topics"],
        proposals=d["props"],
    )
    mid = d["mid"]
    send_key = "mrep.w.send_correction" if d["mode"] == "correct" else "mrep.w.send"
    rows = [
        [_btn(t(send_key), mid, "send")],
        [
            _btn(t("mrep.w.edit_held"), mid, "edit", 0),
            _btn(t("mrep.w.edit_present"), mid, "edit", 1),
        ],
        [
            _btn(t("mrep.w.edit_absent"), mid, "edit", 2),
            _btn(t("mrep.w.edit_minutes"), mid, "edit", 3),
        ],
        [
            _btn(t("mrep.w.edit_resolution"), mid, "edit", 4),
            _btn(t("mrep.w.edit_topics"), mid, "edit", 5),
        ],
        [_btn(t("mrep.w.edit_proposals"), mid, "edit", 6), _btn(t("mrep.w.cancel"), mid, "quit")],
    ]
    title = t("mrep.w.summary")
    if d["mode"] == "correct":
        title = f"{t('mrep.w.correcting')}\n{title}"
    return f"{title}\n\n{text}", InlineKeyboardMarkup(inline_keyboard=rows)


ORDER = [
    Report.HELD,
    Report.PRESENT,
    Report.ABSENT,
    Report.MINUTES,
    Report.RESOLUTION,
    Report.TOPICS,
    Report.PROPOSALS,
    Report.CONFIRM,
]


async def _advance(state: FSMContext) -> None:
    """The next step; once the summary has been seen, every edit returns to it."""
    d = await state.get_data()
    step = await state.get_state()
    if d["walked"] or step == Report.PROPOSALS.state:
        await state.update_data(walked=True)
        await state.set_state(Report.CONFIRM)
        return
    index = next(i for i, s in enumerate(ORDER) if s.state == step)
    nxt = ORDER[index + 1]
    if not d["held"] and nxt in (Report.PRESENT, Report.ABSENT):
        nxt = Report.MINUTES
    await state.set_state(nxt)


async def _show(target: Message, state: FSMContext, session: AsyncSession, *, edit: bool) -> None:
    d = await state.get_data()
    meeting, _branch = await load_meeting(session, d["mid"])
    text, markup = await _render(state, session, meeting)
    if edit:
        try:
            await target.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as err:
            # A tap that changed nothing (−1 at zero) re-renders the same text.
            if "not modified" not in err.message:
                raise
    else:
        await target.answer(text, reply_markup=markup)


# --- /report ----------------------------------------------------------------------------------


def _pick_keyboard(items: list[views.Reportable]) -> InlineKeyboardMarkup:
    t, locale = tr_current(), current_locale()
    kb = InlineKeyboardBuilder()
    for item in items:
        key = "mrep.pick.reported" if item.reported else "mrep.pick.unreported"
        kb.button(
            text=t(
                key,
                when=format_datetime(item.meeting.starts_at, locale),
                kind=t(f"meetings.kind.{item.meeting.kind}"),
            ),
            callback_data=RepPick(mid=item.meeting.id),
        )
    kb.adjust(1)
    return kb.as_markup()


@router.message(Command("report"))
async def cmd_report(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """Start a meeting report: `/report` picks from the reportable meetings, `/report ID` one."""
    assert message.from_user is not None
    arg = (command.args or "").strip().lstrip("#")
    if arg:
        if not arg.isdigit() or len(arg) > 9:
            await message.answer(_("mrep.usage"))
            return
        await _start(message, state, session, settings, clock, int(arg), edit=False)
        return
    actor = await load_actor(session, message.from_user.id, settings.admin_ids)
    if not actor.leads_a_branch:
        await message.answer(refused_text(Refused("policy.needs_secretary")))
        return
    items, upcoming = await views.reportable(session, actor, clock)
    if not items:
        if upcoming is not None:
            await message.answer(
                _("mrep.too_early_next").format(
                    when=format_datetime(upcoming.starts_at, current_locale()),
                    error=_("meetings.error.report_too_early"),
                )
            )
        else:
            await message.answer(_("mrep.nothing"))
        return
    if len(items) == 1:
        await _start(message, state, session, settings, clock, items[0].meeting.id, edit=False)
        return
    await message.answer(_("mrep.pick"), reply_markup=_pick_keyboard(items))


@router.callback_query(RepPick.filter())
async def on_pick(
    query: CallbackQuery,
    callback_data: RepPick,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """The picked meeting's draft (permission and timing re-checked by the service)."""
    if not isinstance(query.message, Message):
        await query.answer()
        return
    # A refused pick (forged id, too early) leaves any open draft as it was.
    await _start(query, state, session, settings, clock, callback_data.mid, edit=True)


async def _start(
    event: Message | CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    meeting_id: int,
    *,
    edit: bool,
) -> None:
    """Prefill the draft: the latest version when correcting, else from the RSVPs."""
    assert event.from_user is not None
    actor = await load_actor(session, event.from_user.id, settings.admin_ids)
    try:
        draft = await svc.report_draft(session, actor, clock, meeting_id)
        versions = await svc.report_versions(session, meeting_id)
        if versions:
            # Refuse a closed correction window now, not after the whole walk.
            window = svc.DEFAULT_CONFIG.correction_window
            if clock.now() > versions[0].submitted_at + window:
                raise MeetingError("meetings.error.correction_closed", days=window.days)
    except Refused as err:
        await refuse(event, err)
        return
    mode = "correct" if versions else "new"
    data = _draft_from(draft.meeting, draft.input, mode, len(draft.member_names))
    await state.set_data(data)
    await state.set_state(Report.HELD)
    if isinstance(event, CallbackQuery):
        await event.answer()
        target = event.message
        assert isinstance(target, Message)
    else:
        target = event
    if versions:
        # A correction starts at the summary, every part prefilled from the latest version.
        await state.update_data(walked=True)
        await state.set_state(Report.CONFIRM)
        intro = _("mrep.correct_intro").format(
            version=versions[-1].version, days=svc.DEFAULT_CONFIG.correction_window.days
        )
        await target.answer(intro)
        await _show(target, state, session, edit=False)
        return
    await _show(target, state, session, edit=edit)


# --- wizard buttons --------------------------------------------------------------------------


@router.callback_query(RepCb.filter())
async def on_step(
    query: CallbackQuery,
    callback_data: RepCb,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
) -> None:
    """Every wizard button: change the draft, move on, re-render in place."""
    d = await state.get_data()
    if not d or d.get("mid") != callback_data.mid or not isinstance(query.message, Message):
        await query.answer(_("mrep.stale"), show_alert=True)
        return
    a, v = callback_data.a, callback_data.v
    if a == "quit":
        await state.clear()
        await query.answer()
        await query.message.edit_text(_("mrep.cancelled"))
        return
    if a == "send":
        await _send(query, state, session, settings, clock, i18n)
        return
    step = await state.get_state()
    advance = False
    if a == "held" and step == Report.HELD.state:
        await state.update_data(held=bool(v))
        advance = True
    elif a in ("pinc", "pdec", "pall") and step == Report.PRESENT.state:
        cap = _max_present(d)
        present = {"pinc": d["present"] + 1, "pdec": d["present"] - 1, "pall": cap}[a]
        await state.update_data(present=min(max(present, 0), cap))
    elif a == "tog" and step == Report.ABSENT.state:
        absent = dict(d["absent"])
        meeting, _branch = await load_meeting(session, d["mid"])
        names = await views.member_names(session, meeting.branch_id)
        if v not in names:  # forged: not a member of this meeting's branch
            await query.answer(_("mrep.stale"), show_alert=True)
            return
        entry = absent.get(str(v))
        if entry is None:
            absent[str(v)] = [None, "", True]
        elif entry[2]:
            absent[str(v)] = [entry[0], entry[1], False]
        else:
            del absent[str(v)]
        present = min(d["present"], max(d["members"] - len(absent), 0))
        await state.update_data(absent=absent, present=present)
    elif a == "apage" and step == Report.ABSENT.state:
        await state.update_data(page=max(v, 0))
    elif a == "mkept" and step == Report.MINUTES.state:
        await state.update_data(minutes=True, fid=None, fkind=None)
        advance = True
    elif a == "mnone" and step == Report.MINUTES.state:
        await state.update_data(minutes=False, fid=None, fkind=None)
        advance = True
    elif a == "next":
        advance = True
    elif a == "edit" and 0 <= v < len(ORDER) - 1:
        target = ORDER[v]
        if not d["held"] and target in (Report.PRESENT, Report.ABSENT):
            target = Report.HELD
        await state.set_state(target)
    else:
        await query.answer(_("mrep.stale"), show_alert=True)
        return
    if advance:
        await _advance(state)
    await query.answer()
    await _show(query.message, state, session, edit=True)


# --- typed input -----------------------------------------------------------------------------


@router.message(Report.PRESENT, F.text, NOT_COMMAND)
async def on_present_typed(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """A typed present count."""
    d = await state.get_data()
    text = (message.text or "").strip()
    if not text.isdigit() or int(text) > _max_present(d):
        await message.answer(_("mrep.w.present_bad").format(max=_max_present(d)))
        return
    await state.update_data(present=int(text))
    await _advance(state)
    await _show(message, state, session, edit=False)


def _minutes_file(message: Message) -> tuple[str, str] | None:
    """(file_id, kind) of a photo, PDF or DOCX; None for anything else."""
    if message.photo:
        return message.photo[-1].file_id, "photo"
    doc = message.document
    if doc is None:
        return None
    name, mime = (doc.file_name or "").lower(), (doc.mime_type or "").lower()
    if mime == "application/pdf" or name.endswith(".pdf"):
        return doc.file_id, "pdf"
    if mime == DOCX_MIME or name.endswith(".docx"):
        return doc.file_id, "docx"
    return None


@router.message(Report.MINUTES, F.photo | F.document)
async def on_minutes_file(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """The minutes as a photo, PDF or DOCX, kept by its Telegram file id."""
    found = _minutes_file(message)
    if found is None:
        await message.answer(refused_text(MeetingError("meetings.error.bad_minutes_file")))
        return
    file_id, kind = found
    if len(file_id) > FILE_ID_MAX:
        await message.answer(refused_text(MeetingError("meetings.error.bad_minutes_file")))
        return
    await state.update_data(minutes=True, fid=file_id, fkind=kind)
    await message.answer(_("mrep.w.minutes_saved").format(kind=_(f"mrep.minutes.{kind}")))
    await _advance(state)
    await _show(message, state, session, edit=False)


@router.message(Report.RESOLUTION, F.text, NOT_COMMAND)
async def on_resolution(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """The conclusion / resolution text (at most 3000 characters)."""
    text = (message.text or "").strip()
    if len(text) > RESOLUTION_MAX:
        err = MeetingError(
            "meetings.error.resolution_too_long", max=RESOLUTION_MAX, length=len(text)
        )
        await message.answer(refused_text(err))
        return
    await state.update_data(res=text)
    await _advance(state)
    await _show(message, state, session, edit=False)


def _lines(text: str, limit: int) -> list[str]:
    items = [line.strip(" \t•-*") for line in text.splitlines()]
    items = [i for i in items if i]
    if len(items) > LIST_ITEMS_MAX:
        raise MeetingError("meetings.error.too_many_items", max=LIST_ITEMS_MAX)
    for item in items:
        if len(item) > limit:
            raise MeetingError("meetings.error.item_too_long", max=limit, length=len(item))
    return items


@router.message(Report.TOPICS, F.text, NOT_COMMAND)
async def on_topics(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """Topics, one per line."""
    await _take_lines(message, state, session, "topics", TOPIC_MAX)


@router.message(Report.PROPOSALS, F.text, NOT_COMMAND)
async def on_proposals(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """Proposals raised, one per line (free text for now)."""
    await _take_lines(message, state, session, "props", PROPOSAL_MAX)


async def _take_lines(
    message: Message, state: FSMContext, session: AsyncSession, field: str, limit: int
) -> None:
    try:
        items = _lines(message.text or "", limit)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await state.update_data({field: items})
    await _advance(state)
    await _show(message, state, session, edit=False)


@router.message(
    StateFilter(Report.HELD, Report.ABSENT, Report.CONFIRM, Report.MINUTES), NOT_COMMAND
)
async def on_unexpected(message: Message) -> None:
    """Something typed where a button (or a file) is expected."""
    await message.answer(_("mrep.w.use_buttons"))


# --- submission -------------------------------------------------------------------------------


async def _send(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
) -> None:
    """Submit (or correct), post to the unit's group via the outbox, and say where it went."""
    assert isinstance(query.message, Message)
    d = await state.get_data()
    if await state.get_state() != Report.CONFIRM.state:
        await query.answer(_("mrep.stale"), show_alert=True)
        return
    actor = await load_actor(session, query.from_user.id, settings.admin_ids)
    data = _input_of(d)
    try:
        if d["mode"] == "correct":
            report = await svc.correct_report(session, actor, clock, d["mid"], data)
        else:
            report = await svc.submit_report(session, actor, clock, d["mid"], data)
    except Refused as err:
        if err.key in ("meetings.error.report_exists", "meetings.error.correction_closed"):
            await state.clear()
        await query.answer(alert_text(err), show_alert=True)
        await query.message.answer(refused_text(err))
        return
    meeting, branch = await load_meeting(session, d["mid"])
    chat_id = await views.report_target(session, branch)
    if chat_id is not None:
        await _post(session, i18n, clock, chat_id, meeting, branch.name, report, d["members"])
    await state.clear()
    key = "mrep.sent_correction" if report.version > 1 else "mrep.sent"
    where = _("mrep.sent_to_unit") if chat_id is not None else _("mrep.no_unit_group")
    await query.answer()
    await query.message.edit_text(_(key).format(id=meeting.id, version=report.version, where=where))


async def _post(
    session: AsyncSession,
    i18n: CatalogI18n,
    clock: Clock,
    chat_id: int,
    meeting: Meeting,
    branch_name: str,
    report: MeetingReport,
    members: int,
) -> None:
    """The report (and its minutes file) to the unit's group, in the group's language."""
    locale = i18n.default_locale
    t = tr_for(i18n, locale)
    names = await views.member_names(session, meeting.branch_id)
    text = report_text(
        t,
        locale,
        branch_name=branch_name,
        meeting=meeting,
        version=report.version,
        held=report.held,
        present=report.present_count,
        members=members,
        absent=[(names.get(int(a["member_id"]), "?"), bool(a["excused"])) for a in report.absent],
        minutes_kept=report.minutes_kept,
        has_file=report.minutes_file_id is not None,
        resolution=report.resolution,
        topics=report.topics,
        proposals=report.proposals,
    )
    caption = t("mrep.report.minutes_caption", branch=html.quote(clip(branch_name, 200)))
    await svc.post_report(session, clock, chat_id, report, text, caption)
