"""Local stand-in for Telegram's Bot API server, for tests and manual runs.

A real aiogram ``Bot`` talks to it over HTTP; requests are validated against the
official spec (the package data ``sandbox/spec_data/api.min.json``) and answered with
Telegram's status codes and wordings. See :mod:`sandbox.server` for the routes,
:mod:`sandbox.state` for the world and the control API, and :mod:`sandbox.testing`
for ``run_sandbox``.
"""

from .errors import ApiError
from .spec import Spec, SpecError, load_spec
from .state import BotWorld, Sandbox
from .testing import SandboxHandle, run_sandbox

__all__ = [
    "ApiError",
    "BotWorld",
    "Sandbox",
    "SandboxHandle",
    "Spec",
    "SpecError",
    "load_spec",
    "run_sandbox",
]
