"""The shared handler kit: what every feature's handlers use instead of writing it again.

- `feature_router(name, Chats.PRIVATE)`: a router whose messages *and* buttons come only from
  the chats it declares.
- `actor: Actor` as a handler parameter (loaded once per update, only when asked for) and
  `RoleFilter(Role.LEADER)` after a command filter: the role is checked, the person told why not.
- Raise (or let a service raise) `Refused`: the kit answers it, a reply or an alert.
- `show(target, text, markup)`: edit the pressed message or answer the typed one.
- `t(key, **params)`: the one way handlers say something; `when(moment, tz)` a date and time.
- `Id`, `Small`, `ChatId` for `CallbackData` fields: bounded, digits only.
- `pager`, `month_grid`, `one_column`, `contact_keyboard`.
"""

from handlers.kit.actor import ActorInjector, ActorMiddleware, ActorSource, RoleFilter
from handlers.kit.answers import (
    CallbackAnswerGuard,
    KitRequestMiddleware,
    UnusedArgsGuard,
    alert_text,
    create_refusals_router,
    refusal_text,
    was_answered,
)
from handlers.kit.callbacks import ChatId, Id, Small, TgId
from handlers.kit.chats import GROUP_TYPES, PRIVATE, Chats, feature_router
from handlers.kit.filters import ChatIs, Magic
from handlers.kit.keyboards import (
    LABEL_MAX,
    CalAction,
    CalCb,
    button_label,
    contact_keyboard,
    month_grid,
    month_in_window,
    one_column,
    pager,
    short,
)
from handlers.kit.replies import (
    READS,
    advance,
    day_text,
    drop_keyboard,
    leave,
    locale,
    show,
    t,
    when,
)

__all__ = [
    "LABEL_MAX",
    "UnusedArgsGuard",
    "button_label",
    "short",
    "GROUP_TYPES",
    "PRIVATE",
    "READS",
    "ActorInjector",
    "ActorMiddleware",
    "ActorSource",
    "CalAction",
    "CalCb",
    "CallbackAnswerGuard",
    "ChatId",
    "ChatIs",
    "Chats",
    "Id",
    "KitRequestMiddleware",
    "Magic",
    "RoleFilter",
    "Small",
    "TgId",
    "advance",
    "alert_text",
    "contact_keyboard",
    "create_refusals_router",
    "drop_keyboard",
    "feature_router",
    "leave",
    "locale",
    "month_grid",
    "month_in_window",
    "one_column",
    "pager",
    "refusal_text",
    "show",
    "t",
    "was_answered",
    "day_text",
    "when",
]
