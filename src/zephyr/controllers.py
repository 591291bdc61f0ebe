"""Method-name controllers: a class whose public methods become routes by their names.

``app.mount_controller("/shop", Shop)`` (see :meth:`zephyr.scaffold.Scaffold.mount_controller`)
is an adapter onto the ordinary routes: this module reads the names and signatures.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from collections.abc import Callable
from typing import Any

from zephyr._route import HTTP_METHODS
from zephyr.errors import SetupError
from zephyr.requests import Request

__all__ = ["controller_routes"]

_SEGMENT_CONVERTERS = {int: "int", float: "float", uuid.UUID: "uuid", str: "str"}


def controller_routes(prefix: str,
                      controller: object) -> list[tuple[str, Callable[..., Any], str, str]]:
    """``(path, method, http_method, route_name)`` for each public method named by a verb."""
    instance = controller() if isinstance(controller, type) else controller
    label = type(instance).__name__
    routes = []
    for attr in sorted(dir(instance)):
        verb, _, rest = attr.partition("_")
        if attr.startswith("_") or not rest or verb.upper() not in HTTP_METHODS:
            continue
        method = getattr(instance, attr)
        if callable(method):
            path = prefix + _controller_path(rest, method)
            routes.append((path.rstrip("/") or "/", method, verb.upper(), f"{label}.{attr}"))
    if not routes:
        raise SetupError(
            f"controller {label} has no methods named like get_index or post_checkout"
        )
    return routes


def _controller_path(rest: str, method: Callable[..., Any]) -> str:
    path = "" if rest == "index" else "/" + rest.replace("_", "-")
    hints = typing.get_type_hints(method)
    for parameter in inspect.signature(method).parameters.values():
        annotation = hints.get(parameter.name)
        is_request = isinstance(annotation, type) and issubclass(annotation, Request)
        if (
            is_request
            or (parameter.name == "request" and annotation is None)
            or parameter.default is not parameter.empty
        ):
            continue  # the request itself, or a query parameter
        converter = _SEGMENT_CONVERTERS.get(annotation or str)
        if converter is None:
            raise SetupError(
                f"controller method {method.__qualname__}: path parameter {parameter.name!r} "
                f"must be annotated int, float, UUID or str"
            )
        path += f"/{{{parameter.name}:{converter}}}"
    return path or "/"
