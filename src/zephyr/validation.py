"""Validation problems as RFC 9457 ``errors`` entries, whichever library found them.

Each entry is ``{"location", "field", "message"}`` plus ``"value"`` when the
offending value is known and not secret: ``location`` is where the value came
from (``path``, ``query``, ``header``, ``cookie``, ``body``, ``form``) and
``field`` the path to it (``body.items[2].price``, ``page``). For an object with
a field it does not allow, ``value`` is that field's name. Messages never quote
what the request sent (an HTML error page shows them, never the values).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import msgspec
    from pydantic import ValidationError as PydanticValidationError

__all__ = ["is_secret_name", "msgspec_errors", "problem", "pydantic_errors"]

ValidationProblem = dict[str, Any]

# SECURITY: values of fields with these words in their name are never echoed back.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key",
                 "authorization", "credential", "cookie", "session")
_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")
# SECURITY: the msgspec messages that quote the offending value or key: they lose the quote,
# which stays in the entry's ``value`` alone.
_QUOTED_VALUE = re.compile(r"(Invalid enum value|Invalid value) '.*'", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(.*)`", re.DOTALL)
_NO_VALUE = object()


def is_secret_name(name: str) -> bool:
    """Whether a field or parameter name suggests a credential."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def problem(location: str, field: str, message: str, value: Any = _NO_VALUE) -> ValidationProblem:
    """One ``errors`` entry; ``value`` is left out when secret or unknown."""
    entry: ValidationProblem = {"location": location, "field": field, "message": message}
    if value is not _NO_VALUE and location != "cookie" and not is_secret_name(field):
        entry["value"] = value
    return entry


def msgspec_errors(
    exc: msgspec.ValidationError, location: str, document: Any = _NO_VALUE, *, root: str = ""
) -> list[ValidationProblem]:
    """The entry for a msgspec validation error (msgspec stops at the first problem).

    ``root`` names what was validated (``body``, or a parameter's name); the
    path msgspec reports (``$.items[2].price``) is appended to it.
    """
    text = str(exc)
    message, sep, where = text.rpartition(" - at `")
    if not sep:
        message, where = text, "$`"
    path = where.rstrip("`")[1:]
    missing = _MISSING_FIELD.fullmatch(message)
    if missing:
        path += f".{missing.group(1)}"
        return [problem(location, _join(root or location, path), message)]
    unknown = _UNKNOWN_FIELD.fullmatch(message)
    if unknown:
        return [problem(location, _join(root or location, path),
                        "Object contains an unknown field", unknown.group(1))]
    quoted = _QUOTED_VALUE.fullmatch(message)
    if quoted:
        message = quoted.group(1)
    value = _walk(document, path) if document is not _NO_VALUE else _NO_VALUE
    return [problem(location, _join(root or location, path), message, value)]


def pydantic_errors(
    exc: PydanticValidationError, location: str, *, root: str = ""
) -> list[ValidationProblem]:
    """An entry for each problem pydantic found."""
    entries = []
    for error in exc.errors(include_url=False):
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        )
        value = error.get("input", _NO_VALUE) if error["type"] != "missing" else _NO_VALUE
        entries.append(problem(location, _join(root or location, path), error["msg"], value))
    return entries


def _join(root: str, path: str) -> str:
    return root + path if path else root


def _walk(document: Any, path: str) -> Any:
    """The value at a msgspec-style path (``.items[2].price``), or ``_NO_VALUE``."""
    current = document
    for name, index in _tokens(path):
        try:
            current = current[int(index)] if index else current[name]
        except (KeyError, IndexError, TypeError):
            return _NO_VALUE
    return current


def _tokens(path: str) -> Iterable[tuple[str, str]]:
    return ((m.group(1) or "", m.group(2) or "") for m in _PATH_TOKEN.finditer(path))
