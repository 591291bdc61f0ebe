"""Handler signature -> argument plan, decided once at registration.

Per request only the plan runs: a handler without parameters is called with
none, one that takes only path parameters gets the router's converted
values. Otherwise each parameter knows where its value comes from:

* ``request: Request`` -> the request;
* a name in the route path -> that path parameter;
* ``Annotated[T, Query()/Header()/Cookie()/Body()/Form()/File()]`` -> there;
* ``Annotated[T, Depends(fn)]`` (or ``= Depends(fn)``) -> a dependency;
* a Struct, dataclass, TypedDict or pydantic model (or a list of them) -> the JSON body;
* ``UploadFile`` -> a file of a multipart form;
* anything else (``int``, ``bool``, ``list[str]``, ...) -> the query string.

Values are converted and validated with msgspec (pydantic for pydantic
models); every problem of a request is reported in one 422.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from zephyr._arguments import (
    MISSING,
    Argument,
    BodyArgument,
    CookieArgument,
    DependencyArgument,
    EmbeddedBodyArgument,
    FileArgument,
    FormArgument,
    HeaderArgument,
    LookupArgument,
    PathArgument,
    QueryArgument,
    RequestArgument,
)
from zephyr.concurrency import run_sync
from zephyr.converters import Param, PathConverter, StringConverter
from zephyr.di import Dependency, Depends, Overrides
from zephyr.errors import RequestValidationError, SetupError
from zephyr.models import json_decoder, model_fields, model_of, python_converter
from zephyr.params import Body, ParamInfo
from zephyr.requests import Request, UploadFile

__all__ = [
    "ArgumentPlan",
    "DependencyOverrides",
    "PlanKind",
    "build_plan",
    "compile_dependency",
    "make_caller",
]

_SCALARS: tuple[type, ...] = (
    str, int, float, bool, uuid.UUID, Decimal, datetime, date, time, timedelta,
)
# Text converters hand over str; the others already produce their own type.
_TEXT_CONVERTERS = (StringConverter, PathConverter)
_SEQUENCES = (list, tuple, set, frozenset)


class PlanKind(enum.Enum):
    """How a handler is called; the first three need no per-request analysis at all."""

    NONE = "no arguments"
    REQUEST = "the request only"
    PATH = "path parameters as the router converted them"
    SYNC = "values read without awaiting (path, query, headers, cookies)"
    ASYNC = "values that need the body or dependencies"


class ArgumentPlan:
    """What a handler (or dependency) takes, and how to fill it from a request."""

    __slots__ = ("arguments", "awaited", "dependencies", "kind", "lookups", "needs_awaiting")

    def __init__(self, arguments: Sequence[Argument], dependencies: Sequence[Dependency]) -> None:
        self.arguments = tuple(arguments)
        self.dependencies = tuple(dependencies)
        self.lookups = tuple(a for a in arguments if isinstance(a, LookupArgument))
        self.awaited = tuple(a for a in arguments if not isinstance(a, LookupArgument))
        #: Whether filling the arguments awaits anything (a body, a form, a dependency).
        self.needs_awaiting = bool(self.dependencies or self.awaited)
        self.kind = _kind_of(self)

    def sync_values(self, request: Request) -> dict[str, Any]:
        """The keyword arguments of a plan that needs no awaiting."""
        if not self.lookups:
            return {}
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for argument in self.lookups:
            try:
                values[argument.name] = argument.extract(request)
            except RequestValidationError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RequestValidationError(errors)
        return values

    async def values(self, request: Request) -> dict[str, Any]:
        """The keyword arguments: dependencies first, then every value, all problems at once."""
        return await self.call(_collect, request)  # type: ignore[no-any-return]

    async def call(self, fn: Callable[..., Awaitable[Any]], request: Request) -> Any:
        """Fill the arguments (all problems reported at once), then ``await fn(**arguments)``."""
        errors: list[dict[str, Any]] = []
        for dependency in self.dependencies:
            try:
                await dependency.solve(request)
            except RequestValidationError as exc:
                _merge(errors, exc.errors)
        try:
            values = self.sync_values(request)
        except RequestValidationError as exc:
            values = {}
            _merge(errors, exc.errors)
        for argument in self.awaited:
            try:
                values[argument.name] = await argument.aextract(request)  # type: ignore[attr-defined]
            except RequestValidationError as exc:
                _merge(errors, exc.errors)
        if errors:
            raise RequestValidationError(errors)
        return await fn(**values)


async def _collect(**values: Any) -> dict[str, Any]:
    return values


def _merge(errors: list[dict[str, Any]], more: Iterable[dict[str, Any]]) -> None:
    """Add the entries not listed yet: arguments sharing a source may find the same fault."""
    for entry in more:
        if entry not in errors:
            errors.append(entry)


def _kind_of(plan: ArgumentPlan) -> PlanKind:
    arguments = plan.arguments
    if plan.dependencies or plan.awaited:
        return PlanKind.ASYNC
    if not arguments:
        return PlanKind.NONE
    if len(arguments) == 1 and isinstance(arguments[0], RequestArgument):
        return PlanKind.REQUEST
    if all(isinstance(a, PathArgument) and a.convert is None for a in arguments):
        return PlanKind.PATH
    return PlanKind.SYNC


Caller = Callable[[Request], Awaitable[Any]]


def make_caller(handler: Callable[..., Any], plan: ArgumentPlan) -> Caller:
    """``caller(request)`` calls ``handler`` as ``plan`` says; plain ``def`` runs in the pool."""
    kind = plan.kind
    invoke = handler if is_async_callable(handler) else _in_thread(handler)
    if kind is PlanKind.NONE:
        return lambda request: invoke()
    if kind is PlanKind.REQUEST:
        name = plan.arguments[0].name
        return lambda request: invoke(**{name: request})
    if kind is PlanKind.PATH:
        return lambda request: invoke(**request.path_params)
    if kind is PlanKind.SYNC:
        sync_values = plan.sync_values
        return lambda request: invoke(**sync_values(request))
    # PERF: the plan fills the arguments and calls the handler in one coroutine.
    return functools.partial(plan.call, invoke)


def _in_thread(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    def invoke(**kwargs: Any) -> Awaitable[Any]:
        return run_sync(handler, **kwargs)

    return invoke


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` returns a coroutine (functions, methods, callable objects)."""
    target = fn if inspect.isroutine(fn) else getattr(fn, "__call__", fn)  # noqa: B004
    return inspect.iscoroutinefunction(inspect.unwrap(target))


def build_plan(
    fn: Callable[..., Any],
    path_params: Mapping[str, Param],
    *,
    dependencies: Iterable[Depends] = (),
    stack: tuple[Callable[..., Any], ...] = (),
    overrides: Overrides | None = None,
) -> ArgumentPlan:
    """Analyse ``fn``'s signature against the route's path parameters.

    ``dependencies`` run before ``fn`` (their values are not passed to it);
    ``stack`` is the chain of dependencies being analysed, to find cycles;
    ``overrides`` (``app.dependency_overrides``) may stand in for any of them.
    """
    is_handler = not stack
    label = "handler" if is_handler else "dependency"
    hints = _hints(fn, label)
    arguments = []
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as exc:
        raise SetupError(
            f"cannot read the signature of {label} {_name(fn)}: {exc}; use a function or "
            "class written in Python (wrap a builtin such as int in a function)"
        ) from None
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD,
                              parameter.POSITIONAL_ONLY):
            only = " (positional-only)" if parameter.kind is parameter.POSITIONAL_ONLY else ""
            raise SetupError(
                f"{label} {_name(fn)} takes {parameter}{only}; name every parameter (no *args, "
                "**kwargs or positional-only ones) so Zephyr knows where its value comes from"
            )
        arguments.append(_argument_for(fn, parameter, hints, path_params, stack, overrides))
    if is_handler:
        for name in path_params:
            if not any(isinstance(a, PathArgument) and a.alias == name for a in arguments):
                raise SetupError(
                    f"handler {_name(fn)} does not take the path parameter {name!r}; "
                    f"add a parameter named {name!r}"
                )
    extra = [compile_dependency(d, path_params, stack, overrides=overrides) for d in dependencies]
    return ArgumentPlan(_embed_bodies(arguments), extra)


def compile_dependency(
    marker: Depends,
    path_params: Mapping[str, Param],
    stack: tuple[Callable[..., Any], ...] = (),
    fallback: Any = None,
    *,
    overrides: Overrides | None = None,
) -> Dependency:
    """A ready-to-run dependency (its own parameters planned); cycles are refused."""
    fn = marker.dependency if marker.dependency is not None else fallback
    if fn is None or fn is MISSING:
        raise SetupError(
            "Depends() without a callable stands for the parameter's annotated class "
            "(service: Annotated[Service, Depends()]); elsewhere, and on a parameter "
            "without an annotation, name what to run: Depends(fn)"
        )
    if not callable(fn):
        raise SetupError(f"Depends() needs a callable, got {fn!r}")
    if fn in stack:
        chain = " -> ".join(_name(f) for f in (*stack, fn))
        raise SetupError(f"dependency cycle: {chain}; break it by removing one of these Depends")
    plan = build_plan(fn, path_params, stack=(*stack, fn), overrides=overrides)
    return Dependency(fn, plan, use_cache=marker.use_cache, overrides=overrides)


class DependencyOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """Replacements for dependencies, for tests: ``app.dependency_overrides[get_db] = fake``.

    A replacement is planned like any dependency the first time it stands in.
    """

    def __init__(self) -> None:
        super().__init__()
        self._planned: dict[tuple[Callable[..., Any], Callable[..., Any]], Dependency] = {}

    def stand_in(self, dependency: Callable[..., Any]) -> Dependency:
        """The planned replacement registered for ``dependency``."""
        replacement = self[dependency]
        key = (dependency, replacement)
        if key not in self._planned:
            self._planned[key] = compile_dependency(Depends(replacement), {}, overrides=self)
        return self._planned[key]


def _hints(fn: Callable[..., Any], label: str) -> dict[str, Any]:
    target = fn if inspect.isroutine(fn) or inspect.isclass(fn) else type(fn).__call__
    try:
        return typing.get_type_hints(
            target.__init__ if inspect.isclass(target) else target, include_extras=True
        )
    except Exception as exc:
        raise SetupError(
            f"cannot read the type hints of {label} {_name(fn)}: {exc}; annotations are "
            "evaluated in the module's namespace, so a type or alias defined inside a "
            "function must move to module level"
        ) from exc


def _argument_for(
    fn: Callable[..., Any],
    parameter: inspect.Parameter,
    hints: dict[str, Any],
    path_params: Mapping[str, Param],
    stack: tuple[Callable[..., Any], ...],
    overrides: Overrides | None,
) -> Argument:
    name = parameter.name
    annotation = hints.get(name, MISSING)
    bare, metadata = _split_annotated(annotation)
    markers = [m for m in metadata if isinstance(m, ParamInfo | Depends)]
    default = MISSING if parameter.default is parameter.empty else parameter.default
    if isinstance(default, ParamInfo | Depends):
        markers.append(default)
        default = MISSING
    if len(markers) > 1:
        raise SetupError(f"{_name(fn)}: parameter {name!r} has several markers {markers}")
    marker = markers[0] if markers else None
    if isinstance(marker, Depends):
        dependency = compile_dependency(marker, path_params, stack or (fn,), bare,
                                        overrides=overrides)
        return DependencyArgument(name, bare, dependency=dependency)
    if (isinstance(bare, type) and issubclass(bare, Request)) or (
        annotation is MISSING and name == "request"
    ):
        return RequestArgument(name, Request)
    if bare is MISSING:
        annotation = bare = str
    location = marker.location if marker else _default_location(name, bare, path_params)
    if marker is not None and marker.constraints:
        annotation = typing.Annotated[annotation, msgspec.Meta(**marker.constraints)]
    return _LOCATIONS[location](
        _Declared(fn, name, annotation, bare, default, marker, path_params)
    )


class _Declared(NamedTuple):
    """One parameter as its signature declares it: what each location's builder starts from."""

    fn: Callable[..., Any]
    name: str
    annotation: Any  # with the marker's constraints folded in
    bare: Any  # without Annotated[...]
    default: Any
    info: ParamInfo | None
    path_params: Mapping[str, Param]

    @property
    def alias(self) -> str:
        """The name on the wire: the marker's alias, else the parameter's name."""
        return self.info.alias if self.info and self.info.alias else self.name


def _default_location(name: str, bare: Any, path_params: Mapping[str, Param]) -> str:
    if name in path_params:
        return "path"
    if _is_upload(bare):
        return "file"
    body = _non_optional(bare)  # ``item: Item | None = None`` is an optional body
    if model_of(body) is not None or body is dict or typing.get_origin(body) is dict:
        return "body"
    return "query"


def _path(p: _Declared) -> Argument:
    alias = p.alias
    if alias not in p.path_params:
        raise SetupError(
            f"{_name(p.fn)}: parameter {p.name!r} is a Path() parameter but the route has no "
            f"{{{alias}}}; path parameters: {', '.join(p.path_params) or 'none'}"
        )
    text = type(p.path_params[alias].converter) in _TEXT_CONVERTERS
    needs = (text and p.bare not in (Any, str)) or _has_constraints(p.annotation)
    if needs:
        _check_scalar(p.fn, p.name, p.bare)
    convert = python_converter(p.annotation, location="path", root=alias) if needs else None
    return PathArgument(p.name, p.annotation, alias=alias, convert=convert, info=p.info)


def _lookup(cls: type[LookupArgument], location: str) -> Any:
    def build(p: _Declared) -> Argument:
        item = _sequence_item(p.bare)
        is_list = item is not MISSING
        _check_scalar(p.fn, p.name, item if is_list else p.bare)
        alias = p.info.alias if p.info and p.info.alias else (
            p.name.replace("_", "-") if location == "header" else p.name
        )
        needs = p.bare is not str or _has_constraints(p.annotation)
        convert = python_converter(p.annotation, location=location, root=alias) if needs else None
        return cls(p.name, p.annotation, alias=alias, default=p.default, convert=convert,
                   is_list=is_list, info=p.info)

    return build


def _body(p: _Declared) -> Argument:
    alias = p.alias
    if isinstance(p.info, Body) and p.info.embed:
        convert = python_converter(p.annotation, location="body", root=f"body.{alias}")
        return EmbeddedBodyArgument(p.name, p.annotation, alias=alias, default=p.default,
                                    convert=convert, info=p.info)
    return BodyArgument(p.name, p.annotation, alias=alias, default=p.default, info=p.info,
                        decode=json_decoder(p.annotation))


def _form(p: _Declared) -> Argument:
    alias = p.alias
    model = model_of(p.bare)
    if model is not None and model is p.bare:
        lists = frozenset(
            field for field, kind in model_fields(model).items()
            if typing.get_origin(_split_annotated(kind)[0]) in _SEQUENCES
        )
        return FormArgument(p.name, p.annotation, alias=alias, default=p.default, info=p.info,
                            whole_form=True, list_fields=lists,
                            convert=python_converter(p.annotation, location="form", root="form"))
    item = _sequence_item(p.bare)
    is_list = item is not MISSING
    _check_scalar(p.fn, p.name, item if is_list else p.bare)
    needs = p.bare is not str or _has_constraints(p.annotation)
    convert = python_converter(p.annotation, location="form", root=alias) if needs else None
    return FormArgument(p.name, p.annotation, alias=alias, default=p.default, convert=convert,
                        is_list=is_list, info=p.info)


def _file(p: _Declared) -> Argument:
    if not _is_upload(p.bare):
        raise SetupError(
            f"{_name(p.fn)}: file parameter {p.name!r} must be annotated UploadFile or "
            f"list[UploadFile], not {p.bare!r}"
        )
    alias = p.alias
    is_list = typing.get_origin(_non_optional(p.bare)) in _SEQUENCES
    return FileArgument(p.name, p.annotation, alias=alias, default=p.default, is_list=is_list,
                        info=p.info)


_LOCATIONS: dict[str, Callable[[_Declared], Argument]] = {
    "path": _path,
    "query": _lookup(QueryArgument, "query"),
    "header": _lookup(HeaderArgument, "header"),
    "cookie": _lookup(CookieArgument, "cookie"),
    "body": _body,
    "form": _form,
    "file": _file,
}


def _embed_bodies(arguments: list[Argument]) -> list[Argument]:
    """Several body parameters share one JSON object, each under its own name."""
    bodies = [a for a in arguments if isinstance(a, BodyArgument)]
    if len(bodies) + sum(isinstance(a, EmbeddedBodyArgument) for a in arguments) < 2:
        return arguments
    return [
        EmbeddedBodyArgument(
            a.name, a.annotation, alias=a.alias, default=a.default, info=a.info,
            convert=python_converter(a.annotation, location="body", root=f"body.{a.alias}"),
        ) if isinstance(a, BodyArgument) else a
        for a in arguments
    ]


def _split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(annotation) is typing.Annotated:
        bare, *metadata = typing.get_args(annotation)
        return bare, tuple(metadata)
    return annotation, ()


def _has_constraints(annotation: Any) -> bool:
    """Whether ``annotation`` carries ``msgspec.Meta`` constraints (from a marker or the user)."""
    return any(isinstance(m, msgspec.Meta) for m in _split_annotated(annotation)[1])


def _non_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _sequence_item(annotation: Any) -> Any:
    """The item type of ``list[T]`` (or ``list[T] | None``), else ``MISSING``."""
    bare = _non_optional(annotation)
    if typing.get_origin(bare) in _SEQUENCES and typing.get_args(bare):
        return typing.get_args(bare)[0]
    return MISSING


def _is_upload(annotation: Any) -> bool:
    bare = _non_optional(annotation)
    if typing.get_origin(bare) in _SEQUENCES:
        bare = typing.get_args(bare)[0]
    return bare is UploadFile


def _check_scalar(fn: Callable[..., Any], name: str, annotation: Any) -> None:
    """Only types that can be written as text come from the path, query, headers or forms."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for option in options:
            _check_scalar(fn, name, option)
        return
    annotation = _split_annotated(annotation)[0]
    if typing.get_origin(annotation) is typing.Literal or annotation is Any:
        return
    if isinstance(annotation, type) and (
        issubclass(annotation, _SCALARS) or issubclass(annotation, enum.Enum)
    ):
        return
    raise SetupError(
        f"{_name(fn)}: parameter {name!r} is annotated {annotation!r}, which cannot come from "
        "the path, query string, headers or a form field; use str, int, float, bool, UUID, "
        "Decimal, a date/time type, an Enum, a Literal or a list of those, or annotate it "
        "with a model to read the JSON body"
    )


def _name(fn: Callable[..., Any]) -> str:
    return repr(getattr(fn, "__qualname__", fn))
