"""The markers that say where a handler parameter comes from: ``Query()``, ``Header()``...

``Annotated[int, Query(ge=1)]`` names the location and the constraints of a
parameter; :mod:`zephyr._plan` turns a handler's signature into the argument
plan that fills it per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from zephyr.errors import SetupError

__all__ = ["Body", "Cookie", "File", "Form", "Header", "ParamInfo", "Path", "Query"]


class ParamInfo:
    """Where a parameter comes from, and how it is named, documented and constrained.

    ``alias`` is the name on the wire; ``description``, ``examples`` and
    ``deprecated`` go to the OpenAPI schema (``include_in_schema=False``
    hides the parameter there); other keywords are constraints checked with
    ``msgspec.Meta``: ``gt``, ``ge``, ``lt``, ``le``, ``multiple_of``,
    ``pattern``, ``min_length``, ``max_length``.
    """

    location = ""
    __slots__ = ("alias", "constraints", "deprecated", "description", "examples",
                 "include_in_schema")

    def __init__(self, *, alias: str | None = None, description: str | None = None,
                 examples: Sequence[Any] | None = None, deprecated: bool = False,
                 include_in_schema: bool = True, **constraints: Any) -> None:
        try:
            msgspec.Meta(**constraints)
        except TypeError:
            allowed = "gt, ge, lt, le, multiple_of, pattern, min_length, max_length"
            raise SetupError(
                f"{type(self).__name__}() got unknown options {sorted(constraints)}; "
                f"constraints are: {allowed}"
            ) from None
        self.alias = alias
        self.description = description
        self.examples = list(examples) if examples is not None else None
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.constraints = constraints

    def __repr__(self) -> str:
        options = {"alias": self.alias, **self.constraints}
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items() if v is not None)
        return f"{type(self).__name__}({shown})"


class Path(ParamInfo):
    """A path parameter (only needed to add constraints or documentation)."""

    location = "path"
    __slots__ = ()


class Query(ParamInfo):
    """A query string value; list types collect every value of a repeated key."""

    location = "query"
    __slots__ = ()


class Header(ParamInfo):
    """A request header; ``user_agent`` reads ``User-Agent`` unless ``alias`` says otherwise."""

    location = "header"
    __slots__ = ()


class Cookie(ParamInfo):
    """A cookie."""

    location = "cookie"
    __slots__ = ()


class Body(ParamInfo):
    """The JSON body; with ``embed=True`` (or several ``Body`` parameters) one member of it."""

    location = "body"
    __slots__ = ("embed",)

    def __init__(self, *, embed: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.embed = embed


class Form(ParamInfo):
    """A form field; on a model type, the whole form validated into that model."""

    location = "form"
    __slots__ = ()


class File(ParamInfo):
    """An uploaded file of a multipart form (``UploadFile`` or ``list[UploadFile]``)."""

    location = "file"
    __slots__ = ()
