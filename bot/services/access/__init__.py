"""Who may do what, and how people and chats come to be known to the bot.

`policy` (every role, action and refusal; the one module every handler and service asks),
the admins' own tools (`admins`), invite codes (`invites`), linking a chat or an account to a
unit (`linking`, its abuse guard `link_guard`, what a code may target `link_targets`, the chats
bound `chat_bindings`) and the notices these send (`notices`). Kept together because they
change together: a new role or target touches all of them. No re-exports: import the module.
"""
