"""/feedback: raise a proposal or complaint (kiến nghị) in a few taps, in private.

The walk: the branch (prefilled; a choice only when the person may raise for several) →
the category by button → the text → photos or documents, then "Xong" → "in my name" or "on
behalf of the branch" (secretaries and deputies only; a visitor always speaks for the branch)
→ check, "private matter" (anyone: the answer then goes to them only, not to the branch's
group) → send. The draft lives in the conversation state;
nothing is written until "Gửi", and the service decides everything again then (the branch, the
category, the lengths, the files, who may speak for the branch).
"""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor, Refused, Role
from bot.services.context import ServiceContext
from bot.services.feedback import items
from bot.services.feedback.common import (
    FILE_NAME_MAX,
    FILES_MAX,
    TEXT_MAX,
    FeedbackError,
    item_number,
)
from bot.services.feedback.presentation import category_label
from handlers.feedback.callbacks import RaiseCb, RaiseStep
from handlers.feedback.states import (
    BranchChoice,
    CategoryChoice,
    FileDraft,
    Raise,
    RaiseDraft,
    exclusive,
    load,
)
from handlers.kit import Chats, Magic, RoleFilter, advance, feature_router, locale, short, show, t

router = feature_router(__name__, Chats.PRIVATE)

NOT_COMMAND = Magic(~F.text.startswith("/"))
# Telegram sends a GIF as an animation *and* a document: it is not a document people attach.
UNSUPPORTED = Magic(
    F.animation | F.video | F.video_note | F.voice | F.audio | F.sticker | F.location | F.contact
)
PREVIEW = 600  # the text as the check screen quotes it
BRANCHES_MAX = 98


def _btn(text: str, step: RaiseStep, v: int = 0) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=RaiseCb(s=step, v=v).pack())]


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[*rows, _btn(t("fbui.cancel"), RaiseStep.CANCEL)])


async def _to(
    target: Message | CallbackQuery,
    state: FSMContext,
    step: State,
    draft: RaiseDraft,
    text: str,
    markup: InlineKeyboardMarkup,
) -> None:
    await advance(state, step, draft.model_dump(mode="json"), show(target, text, markup))


# --- the steps' screens ----------------------------------------------------------------------


async def _category_step(
    target: Message | CallbackQuery, state: FSMContext, session: AsyncSession, draft: RaiseDraft
) -> None:
    branch = draft.branch
    assert branch is not None
    options = await items.categories(session, branch.district_id)
    names = [category_label(locale(), o.code, o.name) for o in options]
    choices = [CategoryChoice(code=o.code, name=n) for o, n in zip(options, names, strict=True)]
    draft = draft.model_copy(update={"categories": choices})
    rows = [_btn(c.name, RaiseStep.CATEGORY, i) for i, c in enumerate(draft.categories)]
    text = t("fbui.raise.category", branch=escape(branch.name))
    await _to(target, state, Raise.CATEGORY, draft, text, _markup(*rows))


def _files_markup() -> InlineKeyboardMarkup:
    return _markup(_btn(t("fbui.raise.files_done"), RaiseStep.FILES_DONE))


async def _after_files(
    target: Message | CallbackQuery, state: FSMContext, draft: RaiseDraft
) -> None:
    """Secretaries and deputies choose whose name it carries; everyone else goes to the check."""
    branch, _ = draft.chosen()
    if branch.leader:
        rows = (
            _btn(t("fbui.raise.as_self"), RaiseStep.AS_SELF),
            _btn(t("fbui.raise.as_branch"), RaiseStep.AS_BRANCH),
        )
        await _to(target, state, Raise.AS, draft, t("fbui.raise.as"), _markup(*rows))
        return
    await _confirm(target, state, draft)


def _as_label(draft: RaiseDraft, branch: BranchChoice) -> str:
    if not branch.member:
        return t("fbui.raise.as_visitor_label")
    return t("fbui.raise.as_branch_label" if draft.on_behalf else "fbui.raise.as_self_label")


async def _confirm(target: Message | CallbackQuery, state: FSMContext, draft: RaiseDraft) -> None:
    branch, category = draft.chosen()
    text = draft.text if len(draft.text) <= PREVIEW else draft.text[: PREVIEW - 1] + "…"
    lines = [
        t("fbui.raise.check"),
        t("fbui.raise.check_branch", branch=escape(branch.name)),
        t("fbui.raise.check_category", category=escape(category.name)),
        t("fbui.raise.check_text", text=escape(text)),
        t("fbui.raise.check_files", n=len(draft.files)),
        t("fbui.raise.check_as", who=_as_label(draft, branch)),
    ]
    if branch.member and not branch.leader:
        lines.append(t("fbui.raise.as_only_self"))  # whose name: theirs (never anonymous)
    # Whether the answer is also told in the branch's group: everyone's choice (a member's
    # own matter is theirs to keep private as much as a secretary's).
    lines.append(t("fbui.raise.private_on" if draft.private else "fbui.raise.private_off"))
    key = "fbui.raise.private_unset" if draft.private else "fbui.raise.private_set"
    rows = [_btn(t("fbui.raise.send"), RaiseStep.SEND), _btn(t(key), RaiseStep.PRIVATE)]
    await _to(target, state, Raise.CONFIRM, draft, "\n".join(lines), _markup(*rows))


# --- /feedback -------------------------------------------------------------------------------


@router.message(Command("feedback"), RoleFilter(Role.KNOWN))
async def cmd_feedback(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    """A new draft (any open one is dropped): the branch, prefilled when there is one."""
    branches = await items.raisable_branches(session, actor)
    if not branches:
        await message.answer(t("fbui.raise.no_branch"))
        return
    own = {m.branch_id for m in actor.memberships}
    led = set(actor.led_branch_ids())
    choices = [
        BranchChoice(
            id=b.id, name=b.name, district_id=b.district_id, leader=b.id in led, member=b.id in own
        )
        for b in branches
    ]
    if len(choices) == 1:
        await _category_step(message, state, session, RaiseDraft(branch=choices[0]))
        return
    # A visitor may speak for every village of the communes their group covers: two a row,
    # their own branches first, within Telegram's 100 buttons.
    choices = choices[:BRANCHES_MAX]
    draft = RaiseDraft(branches=choices)
    buttons = [_btn(short(c.name, 32), RaiseStep.BRANCH, i)[0] for i, c in enumerate(choices)]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await _to(message, state, Raise.BRANCH, draft, t("fbui.raise.branch"), _markup(*rows))


@router.callback_query(RaiseCb.filter(F.s == RaiseStep.CANCEL), StateFilter(Raise))
async def on_cancel(query: CallbackQuery, state: FSMContext) -> None:
    """Drop the draft; nothing was sent."""
    await state.clear()
    await show(query, t("fbui.raise.cancelled"))


@router.callback_query(RaiseCb.filter(F.s == RaiseStep.BRANCH), StateFilter(Raise.BRANCH))
async def on_branch(
    query: CallbackQuery, callback_data: RaiseCb, state: FSMContext, session: AsyncSession
) -> None:
    draft = await load(state, RaiseDraft)
    if callback_data.v >= len(draft.branches):
        raise Refused("kit.expired")
    chosen = draft.model_copy(update={"branch": draft.branches[callback_data.v]})
    await _category_step(query, state, session, chosen)


@router.callback_query(RaiseCb.filter(F.s == RaiseStep.CATEGORY), StateFilter(Raise.CATEGORY))
async def on_category(query: CallbackQuery, callback_data: RaiseCb, state: FSMContext) -> None:
    draft = await load(state, RaiseDraft)
    if callback_data.v >= len(draft.categories):
        raise Refused("kit.expired")
    draft = draft.model_copy(update={"category": draft.categories[callback_data.v]})
    branch, category = draft.chosen()
    text = t("fbui.raise.text", category=escape(category.name), max=TEXT_MAX)
    await _to(query, state, Raise.TEXT, draft, text, _markup())


def _text_of(raw: str) -> str:
    """The typed text as it will be stored; empty or too long is refused with the step still
    open (the service's own check, made now rather than after the files)."""
    return items.checked_text(raw)


def _file_of(message: Message) -> FileDraft:
    if message.photo:
        return FileDraft(kind="photo", file_id=message.photo[-1].file_id)
    doc = message.document
    assert doc is not None  # the filters let only photos and documents through
    return FileDraft(
        kind="document", file_id=doc.file_id, file_name=(doc.file_name or "")[:FILE_NAME_MAX]
    )


@router.message(StateFilter(Raise.TEXT), Magic(F.text), NOT_COMMAND)
async def on_text(message: Message, state: FSMContext) -> None:
    text = _text_of(message.text or "")
    draft = (await load(state, RaiseDraft)).model_copy(update={"text": text})
    await _to(
        message, state, Raise.FILES, draft, t("fbui.raise.files", max=FILES_MAX), _files_markup()
    )


@router.message(StateFilter(Raise.TEXT), UNSUPPORTED)
@router.message(StateFilter(Raise.FILES), UNSUPPORTED)
async def on_unsupported(message: Message) -> None:
    """A video, a voice note, a sticker...: only photos and documents are kept."""
    raise FeedbackError("fb.bad_file")


@router.message(StateFilter(Raise.TEXT), Magic(F.photo | F.document))
async def on_text_with_file(message: Message, state: FSMContext) -> None:
    """A photo or document whose caption is the text; without a caption, the text comes first."""
    if not message.caption:
        raise Refused("fbui.raise.text_first")
    text = _text_of(message.caption)
    async with exclusive(state):
        draft = await load(state, RaiseDraft)
        draft = draft.model_copy(update={"text": text, "files": [*draft.files, _file_of(message)]})
        screen = show(
            message, t("fbui.raise.file_added", n=len(draft.files), max=FILES_MAX), _files_markup()
        )
        await advance(state, Raise.FILES, draft.model_dump(mode="json"), screen)


@router.message(StateFilter(Raise.FILES), Magic(F.photo | F.document))
async def on_file(message: Message, state: FSMContext) -> None:
    """One more file (an album's photos arrive side by side: each is kept, in turn)."""
    async with exclusive(state):
        if await state.get_state() != Raise.FILES.state:
            raise Refused("kit.expired")
        draft = await load(state, RaiseDraft)
        if len(draft.files) >= FILES_MAX:
            raise FeedbackError("fb.too_many_files", max=FILES_MAX)
        draft = draft.model_copy(update={"files": [*draft.files, _file_of(message)]})
        await state.set_data(draft.model_dump(mode="json"))
        await message.answer(
            t("fbui.raise.file_added", n=len(draft.files), max=FILES_MAX),
            reply_markup=_files_markup(),
        )


@router.message(StateFilter(Raise.FILES), Magic(F.text), NOT_COMMAND)
async def on_files_text(message: Message) -> None:
    await message.answer(t("fbui.raise.files_hint"), reply_markup=_files_markup())


@router.message(StateFilter(Raise.BRANCH, Raise.CATEGORY, Raise.AS, Raise.CONFIRM), NOT_COMMAND)
async def on_unexpected(message: Message) -> None:
    """Something typed where a button is expected."""
    await message.answer(t("fbui.use_buttons"))


@router.callback_query(RaiseCb.filter(F.s == RaiseStep.FILES_DONE), StateFilter(Raise.FILES))
async def on_files_done(query: CallbackQuery, state: FSMContext) -> None:
    async with exclusive(state):
        await _after_files(query, state, await load(state, RaiseDraft))


@router.callback_query(
    RaiseCb.filter(F.s.in_({RaiseStep.AS_SELF, RaiseStep.AS_BRANCH})), StateFilter(Raise.AS)
)
async def on_as(query: CallbackQuery, callback_data: RaiseCb, state: FSMContext) -> None:
    draft = await load(state, RaiseDraft)
    on_behalf = callback_data.s is RaiseStep.AS_BRANCH
    await _confirm(query, state, draft.model_copy(update={"on_behalf": on_behalf}))


@router.callback_query(RaiseCb.filter(F.s == RaiseStep.PRIVATE), StateFilter(Raise.CONFIRM))
async def on_private(query: CallbackQuery, state: FSMContext) -> None:
    draft = await load(state, RaiseDraft)
    await _confirm(query, state, draft.model_copy(update={"private": not draft.private}))


@router.callback_query(RaiseCb.filter(F.s == RaiseStep.SEND), StateFilter(Raise.CONFIRM))
async def on_send(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """Raise it: one service call stores it and queues its card; "Gửi" pressed twice raises one."""
    async with exclusive(state):
        if await state.get_state() != Raise.CONFIRM.state:
            raise Refused("kit.expired")
        draft = await load(state, RaiseDraft)
        branch, category = draft.chosen()
        new = items.NewItem(
            branch_id=branch.id,
            category=category.code,
            text=draft.text,
            files=tuple(items.FileRef(f.kind, f.file_id, f.file_name) for f in draft.files),
            on_behalf=draft.on_behalf and branch.member,
            private=draft.private,
        )
        item = await items.raise_item(session, ctx, actor, new)
        await state.clear()
        number = item_number(item.year, item.number)
        await show(query, t(f"fbui.raise.sent_{item.level_type}", number=number))
