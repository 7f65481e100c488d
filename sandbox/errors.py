"""Error type shared by all sandbox layers, shaped like a Bot API error response."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API failure; the server turns it into ``{"ok": false, ...}`` verbatim."""

    def __init__(
        self,
        code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        html_body: str | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters
        # When set, the server answers with this non-JSON body (like a proxy 502 page).
        self.html_body = html_body

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def bad_request(text: str, parameters: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {text}", parameters)


def forbidden(text: str) -> ApiError:
    return ApiError(403, f"Forbidden: {text}")
