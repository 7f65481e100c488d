"""The acting person, loaded once per update and only when something asks for it.

`ActorMiddleware` (outer, per update) puts a lazy `ActorSource` in the handler data; the inner
`ActorInjector` resolves it for handlers that take an `actor: Actor` parameter, and the role
filter resolves it for itself. An update that needs no permission (a /start from a returning
person, an RSVP tap, whose service checks membership itself) costs no query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters import Filter
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import (
    Actor,
    Refused,
    Role,
    has_role,
    load_actor,
    menu_roles,
    sketch_menu_roles,
)
from storage.repositories.update_context import PersonSketch

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ActorSource:
    """Loads the actor at most once per update."""

    def __init__(
        self,
        session: AsyncSession,
        user_id: int,
        admin_ids: Collection[int],
        person: PersonSketch | None = None,
    ) -> None:
        self._session, self._user_id, self._admin_ids = session, user_id, admin_ids
        self._actor: Actor | None = None
        # Read with the account at the start of the update (one query for both).
        self._person = person
        self._known = True if user_id in admin_ids else (person.known if person else None)

    async def known(self) -> bool:
        """Whether the bot knows the person, without loading every role when it need not."""
        if self._actor is not None:
            return self._actor.known
        if self._known is None:  # no hint read with the account: the roles tell
            self._known = (await self.get()).known
        return self._known

    async def get(self) -> Actor:
        if self._actor is None:
            self._actor = await load_actor(self._session, self._user_id, self._admin_ids)
        return self._actor

    async def greeting(self) -> tuple[str, list[str]]:
        """The name the organisation knows the person by and their menu's roles: from the
        sketch read with the account when there is one (no query), else from the actor."""
        if self._actor is None and self._person is not None:
            roles = sketch_menu_roles(self._person, self._user_id in self._admin_ids)
            return self._person.name, roles
        actor = await self.get()
        return (actor.memberships[0].full_name if actor.memberships else ""), menu_roles(actor)

    def forget(self) -> None:
        """After a change of roles in this update (a redeemed invite), load afresh."""
        self._actor = None
        self._known = None
        self._person = None


class ActorMiddleware(BaseMiddleware):
    """Outer update middleware (after the session): the lazy actor for this update."""

    def __init__(self, admin_ids: Collection[int]) -> None:
        self.admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession | None = data.get("session")
        if user is not None and session is not None:
            data["actor_source"] = ActorSource(session, user.id, self.admin_ids, data.get("person"))
        return await handler(event, data)


class ActorInjector(BaseMiddleware):
    """Inner middleware: `actor` for the handlers that declare it."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        handler_obj: HandlerObject | None = data.get("handler")
        source: ActorSource | None = data.get("actor_source")
        if (
            "actor" not in data
            and source is not None
            and handler_obj is not None
            and "actor" in handler_obj.params
        ):
            data["actor"] = await source.get()
        return await handler(event, data)


class RoleFilter(Filter):
    """`RoleFilter(Role.LEADER)`: the handler runs only for people who hold the role.

    Put it after the command filter: when the command matched and the role is missing, the
    person is told why (a `Refused` the kit's error handler renders), so no handler checks
    roles with an `if`. `refuse=False` makes it a plain routing filter instead.
    """

    def __init__(self, role: Role, *, refuse: bool = True) -> None:
        self.role, self.refuse = role, refuse

    async def __call__(
        self, event: TelegramObject, actor_source: ActorSource | None = None
    ) -> bool | dict[str, Any]:
        if actor_source is None:  # no person behind the update (a channel post)
            return False
        if self.role is Role.KNOWN and not self.refuse:
            return await actor_source.known()  # routing only: one query, no roles loaded
        actor = await actor_source.get()
        decision = has_role(actor, self.role)
        if decision:
            return {"actor": actor}
        if self.refuse:
            raise Refused(decision.reason)
        return False
