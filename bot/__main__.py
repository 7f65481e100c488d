"""`python -m bot [COMMAND]`.

`run` and `migrate` read the settings before the bot's code is imported: importing aiogram and
every feature costs seconds of CPU on a small machine, and a wrong DATABASE_URL or a missing
token is said at once, in the same line and with the same exit code 2 as `settings_or_exit`.
"""

import sys

from bot.settings import SettingsError, load_settings

# Commands whose first step is reading the settings, and whether they need the token.
SETTINGS_FIRST = {"run": True, "migrate": False}


def check_settings_first(argv: list[str]) -> None:
    command = argv[0] if argv else "run"
    if command not in SETTINGS_FIRST or "-h" in argv or "--help" in argv:
        return  # the full parser answers (help, other commands, options before the command)
    try:
        load_settings(require_token=SETTINGS_FIRST[command])
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


check_settings_first(sys.argv[1:])

from bot.app.cli import main  # noqa: E402 - after the settings check, on purpose (see above)

sys.exit(main(sys.argv[1:]))
