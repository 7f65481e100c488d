"""/report: the secretary's (or deputy's) meeting report, in a few taps, in private.

The walk: pick the meeting (when several are reportable) → held? → present count (prefilled
from the "Có mặt" answers, −/+ or typed) → absent members (prefilled from the "Vắng mặt"
answers, toggled: excused → not excused → present, paginated) → minutes (upload a photo, PDF or
DOCX, or say kept / not kept) → conclusion → topics → proposals → summary → send. Every step is
prefilled, so the common case is a row of "Next" taps. From the summary any part can be edited.

The draft is a pydantic model in the conversation state (`report_steps.Draft`); its rules live
in the service, which also decides everything again on submission (permission, the meeting has
started, no second first report, the 7-day correction window), so a stale or forged button can
never change another branch's meeting. The service queues the post to the unit's group.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct, NudgeCb
from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.inputs import try_int, typed_day_near
from bot.services import meeting_views as views
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.meetings import correct_report, submit_report
from bot.services.meetings.report_steps import (
    Act,
    Draft,
    Edit,
    MinutesKind,
    Mode,
    Move,
    Press,
    Toggle,
    Typed,
    Upload,
    load_draft,
    ready,
)
from bot.services.meetings.report_wizard import (
    WizardScreen,
    report_choices,
    report_move,
    start_report,
)
from bot.services.meetings.reports import ROW_ID_MAX
from bot.services.vn_calendar import format_date, format_datetime, to_local
from handlers.kit import PRIVATE, Chats, Magic, advance, feature_router, locale, show, t
from handlers.kit.nudged import open_from_nudge
from handlers.kit.proposals import meeting_proposals
from handlers.meetings.report_keyboards import (
    RepCb,
    RepEdit,
    RepMember,
    RepPick,
    pick_keyboard,
    screen,
)
from handlers.meetings.report_states import STATE_OF, Report
from storage.models.meetings import MeetingStatus

router = feature_router(__name__, Chats.PRIVATE)

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NOT_COMMAND = Magic(~F.text.startswith("/"))


async def _draft(state: FSMContext, meeting_id: int | None = None) -> Draft:
    """The open draft (`Refused` "expired" when there is none, "stale" for another meeting)."""
    return load_draft(await state.get_data(), meeting_id)


async def _show(
    target: Message | CallbackQuery, state: FSMContext, i18n: CatalogI18n, s: WizardScreen
) -> None:
    """Keep the draft, then edit the pressed message or answer the typed one."""
    text, markup = screen(i18n, s)
    await advance(state, STATE_OF[s.draft.step], s.draft.dump(), show(target, text, markup))


async def _open(
    target: Message | CallbackQuery, state: FSMContext, i18n: CatalogI18n, s: WizardScreen
) -> None:
    """A new draft; a correction says which version it corrects first."""
    d = s.draft
    if d.mode is Mode.CORRECT:
        message = target.message if isinstance(target, CallbackQuery) else target
        if isinstance(message, Message):
            days = s.correction_days
            await message.answer(t("mrep.correct_intro", version=d.last_version, days=days))
            target = message  # the summary comes as a new message, below the intro
    await _show(target, state, i18n, s)


# --- /report ----------------------------------------------------------------------------------


@router.message(Command("report", magic=F.args))
async def cmd_report_id(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """`/report 05/01`: the report of the branch's meeting that day (permission and timing
    checked by the service). A number typed by an old habit is still read as the meeting's id."""
    args = (command.args or "").strip()
    day = typed_day_near(args, to_local(clock.now()).date())
    if day is not None:
        where = views.Where(message.chat.id, message.chat.type == PRIVATE)
        found = await views.meetings_on(session, actor, clock, where, day)
        held = [m for m in found if m.status != MeetingStatus.CANCELLED] or found
        meeting_id: int | None = held[0].id
    else:
        meeting_id = try_int(args.lstrip("#"), lo=1, hi=ROW_ID_MAX)
    if meeting_id is None:
        await message.answer(t("mrep.usage"))
        return
    await _open(message, state, i18n, await start_report(session, actor, clock, meeting_id))


@router.callback_query(NudgeCb.filter(F.a == NudgeAct.REPORT))
async def on_nudge_report(
    query: CallbackQuery,
    callback_data: NudgeCb,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
    ctx: ServiceContext,
) -> None:
    """Báo cáo ngay under a nudge: /report <id>, opened below it."""
    message = await open_from_nudge(query, callback_data, session, ctx)
    command = CommandObject(prefix="/", command="report", args=str(callback_data.id))
    await cmd_report_id(message, command, state, session, clock, actor, i18n)


@router.message(Command("report"))
async def cmd_report(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """`/report`: the meeting awaiting a report, or a choice when there are several."""
    choices = await report_choices(session, actor, clock)
    if choices.only is not None:
        await _open(message, state, i18n, choices.only)
    elif choices.items:
        await message.answer(t("mrep.pick"), reply_markup=pick_keyboard(choices.items))
    elif choices.upcoming is not None:
        when = format_datetime(choices.upcoming.starts_at, locale())
        error = t("meetings.error.report_too_early")
        await message.answer(t("mrep.too_early_next", when=when, error=error))
    else:
        await message.answer(t("mrep.nothing"))


@router.callback_query(RepPick.filter())
async def on_pick(
    query: CallbackQuery,
    callback_data: RepPick,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """The picked meeting's draft; a refused pick leaves any open draft as it was."""
    await _open(query, state, i18n, await start_report(session, actor, clock, callback_data.mid))


# --- wizard buttons --------------------------------------------------------------------------


async def _move(
    target: Message | CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    i18n: CatalogI18n,
    move: Move,
    meeting_id: int | None = None,
) -> None:
    draft = await _draft(state, meeting_id)
    await _show(target, state, i18n, await report_move(session, draft, move))


@router.callback_query(RepCb.filter(F.act == Act.QUIT))
async def on_quit(query: CallbackQuery, callback_data: RepCb, state: FSMContext) -> None:
    """Drop the draft; nothing was sent."""
    await _draft(state, callback_data.mid)
    await state.clear()
    await show(query, t("mrep.cancelled"))


@router.callback_query(RepCb.filter(F.act == Act.SEND))
async def on_send(
    query: CallbackQuery,
    callback_data: RepCb,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """Submit (or correct): one service call stores it and queues the unit group's post."""
    draft = await _draft(state, callback_data.mid)
    send = correct_report if draft.mode is Mode.CORRECT else submit_report
    sent = await send(session, actor, clock, draft.meeting_id, ready(draft), i18n=i18n)
    await state.clear()
    key = "mrep.sent_correction" if sent.report.version > 1 else "mrep.sent"
    where = t("mrep.sent_to_unit" if sent.group_chat_id is not None else "mrep.no_unit_group")
    day = format_date(to_local(sent.starts_at).date(), locale())
    text = t(key, date=day, version=sent.report.version, where=where)
    # The report's proposals, each one tap from becoming a feedback item (issue 13).
    hint, markup = await meeting_proposals(session, draft.meeting_id)
    await show(query, f"{text}\n\n{hint}" if hint else text, markup)


@router.callback_query(RepCb.filter())
async def on_step(
    query: CallbackQuery,
    callback_data: RepCb,
    state: FSMContext,
    session: AsyncSession,
    i18n: CatalogI18n,
) -> None:
    """Every other wizard button: change the draft, move on, re-render in place."""
    move = Press(callback_data.act, callback_data.v)
    await _move(query, state, session, i18n, move, callback_data.mid)


@router.callback_query(RepMember.filter())
async def on_toggle(
    query: CallbackQuery,
    callback_data: RepMember,
    state: FSMContext,
    session: AsyncSession,
    i18n: CatalogI18n,
) -> None:
    """A member's mark on the absent list (a member of another branch is stale)."""
    move = Toggle(callback_data.member)
    await _move(query, state, session, i18n, move, callback_data.mid)


@router.callback_query(RepEdit.filter())
async def on_edit(
    query: CallbackQuery,
    callback_data: RepEdit,
    state: FSMContext,
    session: AsyncSession,
    i18n: CatalogI18n,
) -> None:
    """From the summary, back to one part."""
    await _move(query, state, session, i18n, Edit(callback_data.step), callback_data.mid)


# --- typed input -----------------------------------------------------------------------------


@router.message(
    StateFilter(Report.PRESENT, Report.RESOLUTION, Report.TOPICS, Report.PROPOSALS),
    Magic(F.text),
    NOT_COMMAND,
)
async def on_typed(
    message: Message, state: FSMContext, session: AsyncSession, i18n: CatalogI18n
) -> None:
    """A typed present count, conclusion, topics or proposals (one per line)."""
    await _move(message, state, session, i18n, Typed(message.text or ""))


def _upload(message: Message) -> Upload | None:
    """A photo, PDF or DOCX as the minutes (kind None for another file)."""
    if message.photo:
        return Upload(message.photo[-1].file_id, MinutesKind.PHOTO)
    doc = message.document
    if doc is None:
        return None
    name, mime = (doc.file_name or "").lower(), (doc.mime_type or "").lower()
    if mime == "application/pdf" or name.endswith(".pdf"):
        return Upload(doc.file_id, MinutesKind.PDF)
    if mime == DOCX_MIME or name.endswith(".docx"):
        return Upload(doc.file_id, MinutesKind.DOCX)
    return Upload(doc.file_id, None)


@router.message(StateFilter(Report.MINUTES), Magic(F.photo | F.document))
async def on_minutes_file(
    message: Message, state: FSMContext, session: AsyncSession, i18n: CatalogI18n
) -> None:
    """The minutes as a file, kept by its Telegram file id."""
    upload = _upload(message)
    assert upload is not None  # the filter lets only photos and documents through
    s = await report_move(session, await _draft(state), upload)
    if s.draft.file_kind is not None:
        await message.answer(
            t("mrep.w.minutes_saved", kind=t(f"mrep.minutes.{s.draft.file_kind.value}"))
        )
    await _show(message, state, i18n, s)


@router.message(
    StateFilter(Report.HELD, Report.ABSENT, Report.CONFIRM, Report.MINUTES), NOT_COMMAND
)
async def on_unexpected(message: Message) -> None:
    """Something typed where a button (or a file) is expected."""
    await message.answer(t("mrep.w.use_buttons"))
