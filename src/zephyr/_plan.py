"""Handler signature -> argument plan, decided once at registration.

Per request only the plan runs: a handler without parameters is called with
none, one that takes only path parameters gets the router's converted
values. Otherwise each parameter knows where its value comes from:

* ``request: Request`` -> the request;
* ``tasks: BackgroundTasks`` -> the request's background tasks;
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
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from zephyr._arguments import (
    BACKGROUND_TASKS,
    MISSING,
    Argument,
    BackgroundTasksArgument,
    DependencyArgument,
    LookupArgument,
    PathArgument,
    RequestArgument,
)
from zephyr._locations import (
    LOCATIONS,
    Declared,
    default_location,
    embed_bodies,
    name_of,
    split_annotated,
)
from zephyr.background import BackgroundTasks
from zephyr.concurrency import run_sync
from zephyr.converters import Param
from zephyr.di import Dependency, Depends, Overrides
from zephyr.errors import RequestValidationError, SetupError
from zephyr.models import is_model
from zephyr.params import ParamInfo
from zephyr.requests import Request

__all__ = [
    "ArgumentPlan",
    "DependencyOverrides",
    "PlanKind",
    "build_plan",
    "compile_dependency",
    "make_caller",
]

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
    caller = _caller(handler, plan)
    # PERF: decided here, once: only a plan that takes BackgroundTasks pays for them.
    return _collecting_tasks(caller) if _takes_tasks(plan) else caller


def _caller(handler: Callable[..., Any], plan: ArgumentPlan) -> Caller:
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


def _collecting_tasks(caller: Caller) -> Caller:
    """``caller`` with one BackgroundTasks for the request, run after the response if it
    returned.

    The tasks become a cleanup once the handler has returned: the last cleanup added runs
    first, so they run before the dependencies' exit code and the uploads' closing, and
    may use both.
    """

    async def call(request: Request) -> Any:
        tasks = request.scope[BACKGROUND_TASKS] = BackgroundTasks()
        result = await caller(request)
        if tasks.tasks:
            request.add_cleanup(tasks.after_response)
        return result

    return call


def _takes_tasks(plan: ArgumentPlan, seen: set[int] | None = None) -> bool:
    """Whether ``plan``, or that of a dependency it runs (or its override), takes
    BackgroundTasks."""
    seen = set() if seen is None else seen
    if id(plan) in seen:  # an override that runs the dependency it replaces
        return False
    seen.add(id(plan))
    dependencies = list(plan.dependencies)
    for argument in plan.arguments:
        if isinstance(argument, BackgroundTasksArgument):
            return True
        if isinstance(argument, DependencyArgument):
            dependencies.append(argument.dependency)
    for dependency in dependencies:
        overrides = dependency.overrides
        if overrides and dependency.fn in overrides:
            dependency = overrides.stand_in(dependency.fn)
        if _takes_tasks(dependency.plan, seen):  # type: ignore[arg-type]
            return True
    return False


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
            f"cannot read the signature of {label} {name_of(fn)}: {exc}; use a function or "
            "class written in Python (wrap a builtin such as int in a function)"
        ) from None
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD,
                              parameter.POSITIONAL_ONLY):
            only = " (positional-only)" if parameter.kind is parameter.POSITIONAL_ONLY else ""
            raise SetupError(
                f"{label} {name_of(fn)} takes {parameter}{only}; name every parameter (no *args, "
                "**kwargs or positional-only ones) so Zephyr knows where its value comes from"
            )
        arguments.append(_argument_for(fn, parameter, hints, path_params, stack, overrides))
    if is_handler:
        for name in path_params:
            if not any(isinstance(a, PathArgument) and a.alias == name for a in arguments):
                raise SetupError(
                    f"handler {name_of(fn)} does not take the path parameter {name!r}; "
                    f"add a parameter named {name!r}"
                )
    extra = [compile_dependency(d, path_params, stack, overrides=overrides) for d in dependencies]
    return ArgumentPlan(embed_bodies(arguments), extra)


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
        chain = " -> ".join(name_of(f) for f in (*stack, fn))
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
        if not inspect.isclass(target):
            return typing.get_type_hints(target, include_extras=True)
        hints = typing.get_type_hints(target.__init__, include_extras=True)
        if is_model(target):
            # msgspec Structs and pydantic models declare their fields on the class: their
            # generated __init__ carries no annotations.
            hints = {**typing.get_type_hints(target, include_extras=True), **hints}
        return hints
    except Exception as exc:
        raise SetupError(
            f"cannot read the type hints of {label} {name_of(fn)}: {exc}; annotations are "
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
    bare, metadata = split_annotated(annotation)
    markers = [m for m in metadata if isinstance(m, ParamInfo | Depends)]
    default = MISSING if parameter.default is parameter.empty else parameter.default
    if isinstance(default, ParamInfo | Depends):
        markers.append(default)
        default = MISSING
    if len(markers) > 1:
        raise SetupError(f"{name_of(fn)}: parameter {name!r} has several markers {markers}")
    marker = markers[0] if markers else None
    if isinstance(marker, Depends):
        dependency = compile_dependency(marker, path_params, stack or (fn,), bare,
                                        overrides=overrides)
        return DependencyArgument(name, bare, dependency=dependency)
    if (isinstance(bare, type) and issubclass(bare, Request)) or (
        annotation is MISSING and name == "request"
    ):
        return RequestArgument(name, Request)
    if bare is BackgroundTasks:
        return BackgroundTasksArgument(name, BackgroundTasks)
    if bare is MISSING:
        annotation = bare = str
    location = marker.location if marker else default_location(name, bare, path_params)
    if marker is not None and marker.constraints:
        annotation = typing.Annotated[annotation, msgspec.Meta(**marker.constraints)]
    return LOCATIONS[location](
        Declared(fn, name, annotation, bare, default, marker, path_params)
    )


