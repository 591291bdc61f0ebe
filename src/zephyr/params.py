"""Handler signature -> argument plan, decided once at registration.

Per request only the plan runs: a handler without parameters is called with
none, one that takes the request gets it, one that takes only path
parameters gets the router's already-converted values. Other scalar
parameters come from the query string, converted (and validated) with msgspec.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from zephyr.concurrency import run_sync
from zephyr.converters import Param, PathConverter, StringConverter
from zephyr.errors import RequestValidationError, SetupError
from zephyr.requests import Request

__all__ = ["ArgumentPlan", "PlanKind", "build_plan", "make_caller"]

_SCALARS: tuple[type, ...] = (
    str, int, float, bool, uuid.UUID, Decimal, datetime, date, time, timedelta,
)
# Text converters hand over str; the others already produce their own type.
_TEXT_CONVERTERS = (StringConverter, PathConverter)
_MISSING = inspect.Parameter.empty


class PlanKind(enum.Enum):
    """How a handler is called; the first three need no per-request work at all."""

    NONE = "no arguments"
    REQUEST = "the request only"
    PATH = "path parameters as the router converted them"
    GENERAL = "arguments assembled by the plan"


@dataclass(frozen=True, slots=True)
class _Source:
    """Where one argument comes from and what type it must have."""

    name: str
    location: str  # "path", "query" or "request"
    annotation: Any
    default: Any
    is_list: bool
    needs_conversion: bool

    def extract(self, request: Request) -> Any:
        if self.location == "request":
            return request
        if self.location == "path":
            raw: Any = request.path_params[self.name]
        elif self.is_list:
            raw = request.query.getlist(self.name)
            if not raw and self.default is not _MISSING:
                return self.default
        else:
            raw = request.query.get(self.name)
            if raw is None:
                if self.default is _MISSING:
                    raise RequestValidationError([self._error("a value is required", None)])
                return self.default
        if not self.needs_conversion:
            return raw
        try:
            return msgspec.convert(raw, self.annotation, strict=False)
        except msgspec.ValidationError as exc:
            raise RequestValidationError([self._error(str(exc), raw)]) from None

    def _error(self, message: str, value: Any) -> dict[str, Any]:
        error = {"location": self.location, "field": self.name, "message": message}
        if value is not None:
            error["value"] = value
        return error


@dataclass(frozen=True, slots=True)
class ArgumentPlan:
    """What a handler takes, and how to fill it from a request."""

    kind: PlanKind
    sources: tuple[_Source, ...]

    def arguments(self, request: Request) -> dict[str, Any]:
        """The keyword arguments for one call (GENERAL plans)."""
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for source in self.sources:
            try:
                values[source.name] = source.extract(request)
            except RequestValidationError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RequestValidationError(errors)
        return values


Caller = Callable[[Request], Awaitable[Any]]


def make_caller(handler: Callable[..., Any], plan: ArgumentPlan) -> Caller:
    """``caller(request)`` calls ``handler`` as ``plan`` says; plain ``def`` runs in the pool."""
    if not _is_async(handler):
        return _sync_caller(handler, plan)
    kind = plan.kind
    if kind is PlanKind.NONE:
        return lambda request: handler()
    if kind is PlanKind.REQUEST:
        name = plan.sources[0].name
        return lambda request: handler(**{name: request})
    if kind is PlanKind.PATH:
        return lambda request: handler(**request.path_params)
    arguments = plan.arguments
    return lambda request: handler(**arguments(request))


def _sync_caller(handler: Callable[..., Any], plan: ArgumentPlan) -> Caller:
    kind = plan.kind
    if kind is PlanKind.NONE:
        return lambda request: run_sync(handler)
    if kind is PlanKind.PATH:
        return lambda request: run_sync(handler, **request.path_params)
    if kind is PlanKind.REQUEST:
        name = plan.sources[0].name
        return lambda request: run_sync(handler, **{name: request})
    arguments = plan.arguments
    return lambda request: run_sync(handler, **arguments(request))


def _is_async(handler: Callable[..., Any]) -> bool:
    target = handler if inspect.isroutine(handler) else getattr(handler, "__call__", handler)  # noqa: B004
    return inspect.iscoroutinefunction(inspect.unwrap(target))


def build_plan(handler: Callable[..., Any], path_params: Mapping[str, Param]) -> ArgumentPlan:
    """Analyse ``handler``'s signature against the route's path parameters."""
    signature = inspect.signature(handler)
    try:
        hints = typing.get_type_hints(handler, include_extras=True)
    except Exception as exc:
        raise SetupError(
            f"cannot read the type hints of handler {_name(handler)}: {exc}"
        ) from exc
    sources: list[_Source] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise SetupError(
                f"handler {_name(handler)} takes *{parameter.name}; name every parameter "
                "so Zephyr knows where its value comes from"
            )
        sources.append(_source_for(handler, parameter, hints, path_params))
    for name in path_params:
        if name not in signature.parameters:
            raise SetupError(
                f"handler {_name(handler)} does not take the path parameter {name!r}; "
                f"add a parameter named {name!r}"
            )
    return ArgumentPlan(_kind_of(sources), tuple(sources))


def _kind_of(sources: list[_Source]) -> PlanKind:
    if not sources:
        return PlanKind.NONE
    if len(sources) == 1 and sources[0].location == "request":
        return PlanKind.REQUEST
    if all(s.location == "path" and not s.needs_conversion for s in sources):
        return PlanKind.PATH
    return PlanKind.GENERAL


def _source_for(
    handler: Callable[..., Any],
    parameter: inspect.Parameter,
    hints: dict[str, Any],
    path_params: Mapping[str, Param],
) -> _Source:
    name = parameter.name
    annotation = hints.get(name, _MISSING)
    bare = _strip_annotated(annotation)
    if (isinstance(bare, type) and issubclass(bare, Request)) or (
        annotation is _MISSING and name == "request"
    ):
        return _Source(name, "request", Request, _MISSING, False, False)
    if name in path_params:
        converter = path_params[name].converter
        needs = type(converter) in _TEXT_CONVERTERS and bare not in (_MISSING, Any, str)
        if needs:
            _check_scalar(handler, name, bare)
        return _Source(name, "path", annotation, _MISSING, False, needs)
    if annotation is _MISSING:
        annotation = bare = str
    is_list = typing.get_origin(bare) in (list, tuple, set, frozenset)
    _check_scalar(handler, name, typing.get_args(bare)[0] if is_list else bare)
    return _Source(name, "query", annotation, parameter.default, is_list, bare is not str)


def _strip_annotated(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def _check_scalar(handler: Callable[..., Any], name: str, annotation: Any) -> None:
    """Only types that can be written in a URL can come from the path or query."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for option in options:
            _check_scalar(handler, name, option)
        return
    if typing.get_origin(annotation) is typing.Literal or annotation is Any:
        return
    if isinstance(annotation, type) and (
        issubclass(annotation, _SCALARS) or issubclass(annotation, enum.Enum)
    ):
        return
    raise SetupError(
        f"handler {_name(handler)}: parameter {name!r} is annotated {annotation!r}, which cannot "
        "come from the path or query string; use str, int, float, bool, UUID, Decimal, a date/"
        "time type, an Enum, a Literal or a list of those (or take `request: Request` and read "
        "the body yourself)"
    )


def _name(handler: Callable[..., Any]) -> str:
    return repr(getattr(handler, "__qualname__", handler))
