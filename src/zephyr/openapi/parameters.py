"""The parameters and the request body of one OpenAPI operation, from a route's arguments.

Path, query, header and cookie arguments become parameter objects; body, form
and file arguments one request body. Schemas come from the :class:`SchemaSource`
the document builder hands in, so that named models end up in ``components``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from zephyr._arguments import (
    MISSING,
    Argument,
    BodyArgument,
    CookieArgument,
    EmbeddedBodyArgument,
    FileArgument,
    FormArgument,
    HeaderArgument,
    PathArgument,
    QueryArgument,
)
from zephyr.converters import FloatConverter, IntConverter, PathConverter, UUIDConverter

if TYPE_CHECKING:
    from zephyr.routing import Route

__all__ = ["SchemaSource", "parameter", "request_body"]

_PATH_SCHEMAS: dict[type, dict[str, Any]] = {
    IntConverter: {"type": "integer", "minimum": 0},
    FloatConverter: {"type": "number", "minimum": 0},
    UUIDConverter: {"type": "string", "format": "uuid"},
    PathConverter: {"type": "string", "minLength": 1},  # slashes included
}
_TEXT_SEGMENT = {"type": "string", "pattern": "^[^/]+$"}
_PARAMETER_LOCATIONS: dict[type[Argument], str] = {
    PathArgument: "path", QueryArgument: "query", HeaderArgument: "header",
    CookieArgument: "cookie",
}
_BINARY = {"type": "string", "format": "binary"}


class SchemaSource(Protocol):
    """Hands out the schema of an annotation (completed once every type is known)."""

    def ref(self, annotation: Any) -> dict[str, Any]: ...


def parameter(route: Route, argument: Argument, schemas: SchemaSource) -> dict[str, Any] | None:
    """The parameter object of a path, query, header or cookie argument, else ``None``."""
    location = _PARAMETER_LOCATIONS.get(type(argument))
    info = argument.info
    if location is None or (info is not None and not info.include_in_schema):
        return None
    if isinstance(argument, PathArgument) and argument.convert is None:
        schema = _path_schema(route, argument.alias)
    else:
        schema = _with_default(schemas.ref(argument.annotation), argument)
    found: dict[str, Any] = {
        "name": argument.alias,
        "in": location,
        "required": location == "path" or argument.required,
        "schema": schema,
    }
    if info is not None:
        if info.description:
            found["description"] = info.description
        if info.deprecated:
            found["deprecated"] = True
        if info.examples:
            found["examples"] = {f"example{i}": {"value": v}
                                 for i, v in enumerate(info.examples, 1)}
    return found


def request_body(arguments: Sequence[Argument], schemas: SchemaSource) -> dict[str, Any] | None:
    """The request body object of the body, form and file arguments, else ``None``."""
    bodies = [a for a in arguments if isinstance(a, BodyArgument)]
    if bodies:
        body = bodies[0]
        return {"required": body.required,
                "content": {"application/json": {"schema": schemas.ref(body.annotation)}}}
    embedded = [a for a in arguments if isinstance(a, EmbeddedBodyArgument)]
    if embedded:
        return {"required": any(a.required for a in embedded),
                "content": {"application/json": {"schema": _object(embedded, schemas)}}}
    fields = [a for a in arguments if isinstance(a, FormArgument | FileArgument)]
    if not fields:
        return None
    whole = [a for a in fields if isinstance(a, FormArgument) and a.whole_form]
    schema = schemas.ref(whole[0].annotation) if whole else _object(fields, schemas)
    media = ("multipart/form-data" if any(isinstance(a, FileArgument) for a in fields)
             else "application/x-www-form-urlencoded")
    return {"required": any(a.required for a in fields), "content": {media: {"schema": schema}}}


def _path_schema(route: Route, name: str) -> dict[str, Any]:
    param = route.path_params.get(name)  # whole segments and compound ones alike
    if param is None:
        return {"type": "string"}
    return dict(_PATH_SCHEMAS.get(type(param.converter), _TEXT_SEGMENT))


def _object(arguments: Sequence[Argument], schemas: SchemaSource) -> dict[str, Any]:
    properties = {}
    for argument in arguments:
        if isinstance(argument, FileArgument):
            properties[argument.alias] = (
                {"type": "array", "items": dict(_BINARY)} if argument.is_list else dict(_BINARY)
            )
        else:
            properties[argument.alias] = _with_default(schemas.ref(argument.annotation), argument)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [a.alias for a in arguments if a.required]
    if required:
        schema["required"] = required
    return schema


def _with_default(schema: dict[str, Any], argument: Argument) -> dict[str, Any]:
    """``schema`` with the value the handler gets when the request has none (as JSON)."""
    if argument.default is not MISSING:
        # A default JSON cannot hold (an arbitrary object) is left undocumented.
        with contextlib.suppress(TypeError):
            schema["default"] = msgspec.to_builtins(argument.default)
    return schema
