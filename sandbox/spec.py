"""Load the official Bot API spec and validate incoming calls against it.

The spec ships with the sandbox as package data (``sandbox/spec_data/api.min.json``, with its MIT
licence and source beside it), so a clone of the project alone runs and tests; ``--spec`` or
``TELEGRAM_API_SPEC`` point at another copy. A missing spec is a hard error: silently skipping
validation would let bugs through.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ApiError, bad_request

ENV_VAR = "TELEGRAM_API_SPEC"
_DISCRIMINATOR_RE = re.compile(r"(?:must be|always)\s+[“\"]?([a-z_]+)")
_INT_RE = re.compile(r"^-?\d+$")
_PRIMITIVES = {"Integer", "String", "Boolean", "Float", "True", "InputFile"}


class SpecError(RuntimeError):
    """The spec file is missing or unreadable."""


@dataclass
class UploadedFile:
    """A file part received in a multipart body."""

    filename: str
    content: bytes
    content_type: str | None = None


@dataclass
class Method:
    name: str
    fields: dict[str, dict[str, Any]]
    returns: list[str] = field(default_factory=list)


def default_spec_path() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "spec_data" / "api.min.json"


class _TypeMismatch(Exception):
    """Internal: value does not fit a declared type; carries a human-readable reason."""


class Spec:
    """Parsed spec with call validation (parameters, required fields, types, nested objects)."""

    def __init__(self, data: dict[str, Any], source: str = "<memory>") -> None:
        try:
            methods = data["methods"]
            self.types: dict[str, dict[str, Any]] = data["types"]
        except (KeyError, TypeError) as exc:
            raise SpecError(f"{source}: not a Bot API spec (no methods/types)") from exc
        self.version = data.get("version", "unknown")
        self.source = source
        self.methods: dict[str, Method] = {}
        for name, m in methods.items():
            fields = {f["name"]: f for f in m.get("fields", [])}
            self.methods[name.lower()] = Method(m["name"], fields, m.get("returns", []))
        self._discriminators: dict[str, tuple[str, str] | None] = {}

    # ---- lookup -------------------------------------------------------------------------
    def method(self, name: str) -> Method | None:
        return self.methods.get(name.lower())

    def required_fields(self, type_name: str) -> list[str]:
        return [f["name"] for f in self.types[type_name].get("fields", []) if f["required"]]

    # ---- validation ---------------------------------------------------------------------
    def validate_call(
        self, method: Method, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        """Return params converted to Python values or raise a 400 ApiError."""
        out: dict[str, Any] = {}
        for key, value in params.items():
            spec_field = method.fields.get(key)
            if spec_field is None:
                raise bad_request(f'unknown parameter "{key}"')
            try:
                out[key] = self._coerce_any(value, spec_field["types"], files, top=True)
            except _TypeMismatch as exc:
                raise bad_request(f'wrong parameter "{key}": {exc}') from None
        for name, spec_field in method.fields.items():
            if spec_field["required"] and name not in out:
                raise bad_request(f'parameter "{name}" is required')
        return out

    def check_object(self, value: Any, type_name: str) -> None:
        """Raise ValueError when ``value`` is not a valid ``type_name`` (used by tests)."""
        try:
            self._coerce(value, type_name, {}, top=False)
        except _TypeMismatch as exc:
            raise ValueError(str(exc)) from None

    def _coerce_any(
        self, value: Any, types: list[str], files: dict[str, UploadedFile], *, top: bool
    ) -> Any:
        if "InputFile" in types and isinstance(value, str) and value.startswith("attach://"):
            return self._coerce(value, "InputFile", files, top=top)
        reasons = []
        for type_name in types:
            try:
                return self._coerce(value, type_name, files, top=top)
            except _TypeMismatch as exc:
                reasons.append(str(exc))
        if len(reasons) == 1:
            raise _TypeMismatch(reasons[0])
        raise _TypeMismatch(f"expected one of {' | '.join(types)} ({'; '.join(reasons)})")

    def _coerce(
        self, value: Any, type_name: str, files: dict[str, UploadedFile], *, top: bool
    ) -> Any:
        if type_name.startswith("Array of "):
            inner = type_name[len("Array of ") :]
            if isinstance(value, str):
                value = _loads(value, type_name)
            if not isinstance(value, list):
                raise _TypeMismatch(f"expected {type_name}")
            return [self._coerce(v, inner, files, top=False) for v in value]
        if type_name == "Integer":
            if isinstance(value, bool):
                raise _TypeMismatch("expected Integer")
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and _INT_RE.match(value.strip()):
                return int(value.strip())
            raise _TypeMismatch(f"expected Integer, got {value!r}"[:120])
        if type_name == "Float":
            if isinstance(value, bool):
                raise _TypeMismatch("expected Float")
            if isinstance(value, int | float):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise _TypeMismatch(f"expected Float, got {value!r}"[:120])
        if type_name in ("Boolean", "True"):
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            raise _TypeMismatch(f"expected Boolean, got {value!r}"[:120])
        if type_name == "String":
            if isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            raise _TypeMismatch(f"expected String, got {type(value).__name__}")
        if type_name == "InputFile":
            if isinstance(value, UploadedFile):
                return value
            if isinstance(value, str) and value.startswith("attach://"):
                name = value[len("attach://") :]
                if name in files:
                    return files[name]
                raise _TypeMismatch(f'attachment "{name}" not found in the request')
            raise _TypeMismatch("expected InputFile")
        spec_type = self.types.get(type_name)
        if spec_type is None:
            return value  # unknown to the spec: nothing to check
        if top and isinstance(value, str):
            value = _loads(value, type_name)
        subtypes = spec_type.get("subtypes")
        if subtypes:
            return self._coerce_union(value, type_name, subtypes, files)
        if not isinstance(value, dict):
            raise _TypeMismatch(f"expected {type_name} object")
        out = dict(value)  # unknown keys are ignored, like Telegram does
        for f in spec_type.get("fields", []):
            name = f["name"]
            if name in value:
                try:
                    out[name] = self._coerce_any(value[name], f["types"], files, top=False)
                except _TypeMismatch as exc:
                    raise _TypeMismatch(f"{type_name}.{name}: {exc}") from None
            elif f["required"]:
                raise _TypeMismatch(f'{type_name}: field "{name}" is required')
        return out

    def _coerce_union(
        self, value: Any, type_name: str, subtypes: list[str], files: dict[str, UploadedFile]
    ) -> Any:
        reasons = []
        for sub in subtypes:
            disc = self._discriminator(sub)
            if disc and isinstance(value, dict) and value.get(disc[0]) != disc[1]:
                continue
            try:
                return self._coerce(value, sub, files, top=False)
            except _TypeMismatch as exc:
                reasons.append(str(exc))
        detail = "; ".join(reasons) if reasons else "no matching variant"
        raise _TypeMismatch(f"can't parse {type_name}: {detail}")

    def _discriminator(self, type_name: str) -> tuple[str, str] | None:
        """Find the ``type``/``status`` field whose description pins a constant value."""
        if type_name not in self._discriminators:
            found = None
            for f in self.types.get(type_name, {}).get("fields", []):
                if f["required"] and f["types"] == ["String"]:
                    m = _DISCRIMINATOR_RE.search(f.get("description", ""))
                    if m:
                        found = (f["name"], m.group(1))
                        break
            self._discriminators[type_name] = found
        return self._discriminators[type_name]


def _loads(value: str, type_name: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise _TypeMismatch(f"can't parse {type_name} JSON object") from None


def load_spec(path: str | os.PathLike[str] | None = None) -> Spec:
    """Load the spec from ``path``, ``$TELEGRAM_API_SPEC`` or the sandbox's own copy."""
    spec_path = Path(path) if path is not None else default_spec_path()
    if not spec_path.is_file():
        raise SpecError(
            f"Bot API spec not found at {spec_path}; set {ENV_VAR} or pass --spec "
            "(the sandbox's own copy is sandbox/spec_data/api.min.json)"
        )
    try:
        key = (str(spec_path), spec_path.stat().st_mtime_ns)
        if key not in _loaded:
            data = json.loads(spec_path.read_text(encoding="utf-8"))
            _loaded[key] = Spec(data, str(spec_path))
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read Bot API spec {spec_path}: {exc}") from exc
    return _loaded[key]


# Specs by path and mtime: a Spec is only read once made, and a process that starts many
# sandboxes (the tests, the demo) parsed the same 1 MB of JSON for each.
_loaded: dict[tuple[str, int], Spec] = {}


__all__ = ["ApiError", "Method", "Spec", "SpecError", "UploadedFile", "load_spec"]
