"""Each route compiled for serving: arguments and dependencies, the handler, its response
model, hooks, middleware, security checks and error handling, all decided at startup.

:class:`EndpointCompiler` is handed what the app decided (error pages, security
layer, dependency overrides, body limits) and turns a :class:`~zephyr.routing.Route`
into a :class:`RouteEndpoint`, the record the route table maps requests to.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from zephyr._arguments import DependencyArgument
from zephyr._disconnect import can_suspend, watching
from zephyr._plan import (
    ArgumentPlan,
    DependencyOverrides,
    PlanKind,
    build_plan,
    is_async_callable,
    make_caller,
)
from zephyr._types import Scope
from zephyr.error_handlers import handle_exception
from zephyr.error_pages import ErrorPages
from zephyr.errors import HTTPException, ResponseValidationError, SetupError
from zephyr.middleware import Endpoint, compose, with_hooks
from zephyr.models import is_pydantic_model, model_of
from zephyr.requests import BodyLimits
from zephyr.responses import JSONResponse, Response, to_response
from zephyr.routing import EndpointRoute, Route

if TYPE_CHECKING:
    from zephyr.cors import CORSPolicies, CORSPolicy
    from zephyr.requests import Request
    from zephyr.scaffold import Scaffold
    from zephyr.security.layer import SecurityLayer

__all__ = ["EndpointCompiler", "RouteEndpoint", "response_model_of", "success_status"]

Respond = Callable[[Any], Response]
OnError = Callable[["Request", Exception], Awaitable[Response]]
#: Finds the record of a request (the live route table's ``match``).
MatchRecord = Callable[[Scope], tuple["RouteEndpoint", Mapping[str, Any]]]
_UNSET: Any = object()
HANDLER_ERROR = "zephyr.handler_error"
#: The body timeout options of groups and routes, and the BodyLimits field each sets.
_BODY_TIMEOUTS = (("body_timeout", "timeout"), ("body_idle_timeout", "idle_timeout"))


class RouteEndpoint:
    """A route compiled for serving: what the app calls per request.

    PERF: a plain slotted class: its attributes are read on every request, and CPython
    specialises slot reads (a NamedTuple's are not); a dataclass would cost ~0.6 ms at
    import.
    """

    __slots__ = ("checked", "cors", "endpoint", "limits", "lineage", "plan", "route")

    def __init__(self, route: Route, endpoint: Endpoint, limits: BodyLimits,
                 plan: ArgumentPlan | None = None, lineage: tuple[Scaffold, ...] = (),
                 cors: CORSPolicy | None = None, checked: Endpoint | None = None) -> None:
        """``checked`` is the endpoint behind the route's security checks, when ``endpoint``
        wraps more around it (CORS)."""
        self.route = route
        self.endpoint = endpoint
        #: The endpoint behind the route's security checks (the OpenAPI document reads what
        #: they refuse); ``endpoint`` itself unless CORS wraps it.
        self.checked = endpoint if checked is None else checked
        #: The route's body limits (the app's unless it sets max_body_size/body_timeout).
        self.limits = limits
        #: How the handler's parameters are filled (the OpenAPI document reads it).
        self.plan = plan
        #: The app and the groups the route was registered through, outermost first.
        self.lineage = lineage
        #: The route's CORS policy (``None``: no CORS), which also answers its preflights.
        self.cors = cors


class EndpointCompiler:
    """Compiles the routes of one app from what it decided at startup."""

    __slots__ = ("_config", "_cors", "_match", "limits", "lineage_of", "overrides", "pages",
                 "security")

    def __init__(self, *, security: SecurityLayer, limits: BodyLimits,
                 overrides: DependencyOverrides,
                 lineage_of: Callable[[Route], Sequence[Scaffold]],
                 config: Mapping[str, Any], match: MatchRecord,
                 pages: ErrorPages | None = None) -> None:
        """``lineage_of(route)`` gives the app and the groups a route was registered through;
        ``config`` holds the settings (CORS); ``match(scope)`` finds a request's record in the
        live route table (for preflights); ``pages`` are the app's error pages (its templates,
        the debug page in debug mode)."""
        self.security = security
        self.limits = limits
        self.overrides = overrides
        self.lineage_of = lineage_of
        self.pages = ErrorPages() if pages is None else pages
        self._config = config
        self._match = match
        self._cors: CORSPolicies | None = None
        if config["CORS_ALLOW_ORIGINS"] or config["CORS_ALLOW_ORIGIN_REGEX"] is not None:
            self._cors = self._load_cors()  # at startup: a bad policy refuses to start

    def compile(self, route: Route) -> RouteEndpoint:
        """Everything ``route`` does per request, as one record."""
        if isinstance(route, EndpointRoute):
            return RouteEndpoint(route, route.handler, self.limits)  # served as is
        lineage = tuple(self.lineage_of(route))
        handler = route.handler
        dependencies = [d for s in lineage for d in s.dependencies]
        dependencies += route.options.get("dependencies", ())
        plan = build_plan(handler, route.path_params, dependencies=dependencies,
                          overrides=self.overrides)
        call = make_caller(handler, plan)
        respond, plain = _responder(route)
        status = route.options.get("status_code", 200)
        on_error = self._error_answer(lineage)
        middleware = [mw for s in lineage[1:] for mw in s.registered_middleware]
        middleware += route.options.get("middleware", ())
        before = [hook for s in lineage for hook in s.before_hooks]
        after = [hook for s in reversed(lineage) for hook in s.after_hooks]

        if middleware or before or after:
            async def run_handler(request: Request) -> Response:
                return respond(await call(request))

            endpoint = with_hooks(compose(middleware, run_handler), before, after, on_error)
        else:
            # PERF: no hooks and no middleware: one coroutine guards and runs the handler,
            # and a dict (the most common return value) skips the coercion table. An async
            # handler taking nothing, or only its path parameters, is called right here
            # (a call frame less than through the caller: ~150 instructions).
            direct = is_async_callable(handler)
            bare = direct and plan.kind is PlanKind.NONE
            by_path = direct and plan.kind is PlanKind.PATH

            async def endpoint(request: Request) -> Response:
                try:
                    result = await (handler() if bare else
                                    handler(**request.path_params) if by_path else
                                    call(request))
                    if plain and result.__class__ is dict:
                        return JSONResponse(result, status)
                    return respond(result)
                except Exception as exc:
                    return await on_error(request, exc)

        if middleware or before or after or can_suspend(handler) or _may_wait(plan):
            endpoint = watching(endpoint)
        layers = [(s.options, s.counter_name) for s in lineage]
        layers.append((route.options, route.name))
        protected = self.security.protect(route, layers, endpoint, on_error)
        served = protected
        cors = self._cors_of(route, [options for options, _ in layers])
        if cors is not None:
            served = cors.wrap(protected)
            if "OPTIONS" in route.methods:
                served = self._answer_preflights(served, on_error)
        return RouteEndpoint(route, served, self._limits_of(route, lineage), plan, lineage, cors,
                             protected)

    def answer_options(self, allowed: tuple[str, ...]) -> RouteEndpoint:
        """The implicit ``OPTIONS`` answer for a path: 204 with ``Allow``, no checks.

        Once a route has a CORS policy, preflights get the answer of the policy of the
        route that serves the requested method.
        """
        allow = ", ".join(allowed)

        async def options(request: Request) -> Response:
            return Response(status_code=204, headers={"Allow": allow})

        route = Route("/", options, methods=["OPTIONS"], name="__options__")
        endpoint: Endpoint = options
        if self._cors is not None:
            # A refused preflight is answered by the app's error handlers.
            on_error = self._error_answer(self.lineage_of(route))
            endpoint = self._answer_preflights(options, on_error)
        return RouteEndpoint(route, endpoint, self.limits)

    def _cors_of(self, route: Route, layers: Sequence[Mapping[str, Any]]) -> CORSPolicy | None:
        """The route's CORS policy; ``None`` (and nothing loaded) when nothing asks for CORS."""
        if self._cors is None:
            if not any("cors" in options for options in layers):
                return None
            self._cors = self._load_cors()
        return self._cors.resolve(route.path, layers)

    def _load_cors(self) -> CORSPolicies:
        # NOTE: CORS is a deferred feature: imported when the settings or a route ask for it.
        from zephyr.cors import CORSPolicies

        return CORSPolicies(self._config)

    def _answer_preflights(self, endpoint: Endpoint, on_error: OnError) -> Endpoint:
        from zephyr.cors import answer_preflights  # NOTE: loaded with CORS, see _load_cors

        return answer_preflights(endpoint, self._policy_for, on_error)

    def _policy_for(self, scope: Scope, method: str) -> CORSPolicy | None:
        """The CORS policy of the route that serves ``method`` at the path of ``scope``."""
        try:
            record, _ = self._match({**scope, "method": method})
        except HTTPException:  # no such route (404, 405, a slash redirect, a bad path)
            return None
        return record.cors

    def _error_answer(self, lineage: Sequence[Scaffold]) -> OnError:
        maps = tuple(s.error_handlers for s in reversed(lineage))
        pages = self.pages

        async def on_error(request: Request, exc: Exception) -> Response:
            # Cleanups of yield dependencies see the handler's exception, handled or not.
            request.scope[HANDLER_ERROR] = exc
            return await handle_exception(request, exc, maps, pages=pages)

        return on_error

    def _limits_of(self, route: Route, lineage: Sequence[Scaffold]) -> BodyLimits:
        """The app's body limits, changed by the route's ``max_body_size=`` and by the body
        timeouts its groups or itself set (the innermost wins)."""
        options = route.options
        limits = self.limits
        if "max_body_size" in options:
            size = options["max_body_size"]
            limits = dataclasses.replace(limits, json=size, form=size, multipart=size, other=size)
        timeouts = {
            field: layer[option]
            for layer in (*(scaffold.options for scaffold in lineage), options)
            for option, field in _BODY_TIMEOUTS if option in layer
        }
        return dataclasses.replace(limits, **timeouts) if timeouts else limits


def _may_wait(plan: ArgumentPlan) -> bool:
    """Whether filling ``plan`` can wait on the event loop (reading a body, a dependency)."""
    dependencies = list(plan.dependencies)
    for argument in plan.awaited:
        if not isinstance(argument, DependencyArgument):
            return True  # a body, form or file: reading it can wait for the network
        dependencies.append(argument.dependency)
    return any(
        dependency.kind != "async" or can_suspend(dependency.fn)
        or _may_wait(dependency.plan)  # type: ignore[arg-type]
        for dependency in dependencies
    )


def _responder(route: Route) -> tuple[Respond, bool]:
    """How the handler's return value becomes the response, and whether that is the default.

    By default (no response model, no response class) a dict may skip it.
    """
    handler = route.handler
    status = route.options.get("status_code", 200)
    response_class = route.options.get("response_class")
    model = response_model_of(route)
    if model is not None:
        if response_class is not None and not issubclass(response_class, JSONResponse):
            raise SetupError(
                f"route {route.path!r}: a response model needs a JSON response class, not "
                f"{response_class.__name__}; pass response_model=None to send other content"
            )
        shape = _shaper(model, handler)

        def respond_with_model(value: Any) -> Response:
            if isinstance(value, Response):
                return value
            return (response_class or JSONResponse)(shape(value), status)

        return respond_with_model, False
    if response_class is not None:
        def respond_with_class(value: Any) -> Response:
            return value if isinstance(value, Response) else response_class(value, status)

        return respond_with_class, False

    def respond(value: Any) -> Response:
        return to_response(value, status, handler)

    return respond, True


def response_model_of(route: Route) -> Any:
    """``response_model=`` if given, else the return annotation when it is a model."""
    declared = route.options.get("response_model", _UNSET)
    if declared is not _UNSET:
        return declared
    annotation = _return_annotation(route)
    return annotation if model_of(annotation) is not None else None


def success_status(route: Route) -> int:
    """The status of the route's successful answer: ``status_code=`` (200 by default), or
    204 for a handler annotated ``-> None`` whose ``None`` the default coercion answers."""
    status: int = route.options.get("status_code", 200)
    if (status == 200 and route.options.get("response_class") is None
            and response_model_of(route) is None and _return_annotation(route) is type(None)):
        return 204  # as to_response does with None
    return status


def _return_annotation(route: Route) -> Any:
    try:
        return typing.get_type_hints(route.handler).get("return")
    except Exception:  # unresolvable annotations: the handler still works unchecked
        return None


def _shaper(model: Any, handler: Callable[..., Any]) -> Callable[[Any], Any]:
    """Convert a return value to ``model``: fields the model lacks never leave."""
    name = getattr(handler, "__qualname__", repr(handler))
    label = getattr(model, "__name__", repr(model))
    if model_of(model) is None:
        raise SetupError(f"response_model of {name} must be a model (or list of models), "
                         f"not {model!r}")
    if is_pydantic_model(model_of(model)):
        from pydantic import TypeAdapter, ValidationError

        adapter = TypeAdapter(model)

        def shape_pydantic(value: Any) -> Any:
            try:
                return adapter.validate_python(value, from_attributes=True)
            except ValidationError as exc:
                # SECURITY: pydantic's str(exc) quotes the input; only locations and messages.
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False)
                )
                raise ResponseValidationError(_mismatch(name, label, problems)) from None

        return shape_pydantic

    def shape(value: Any) -> Any:
        if value.__class__ is model:
            return value
        try:
            return msgspec.convert(value, model, from_attributes=True)
        except msgspec.ValidationError as exc:
            raise ResponseValidationError(_mismatch(name, label, str(exc))) from None

    return shape


def _mismatch(handler: str, model: str, detail: str) -> str:
    return (
        f"{handler} returned a value that does not fit its response model {model}: {detail}; "
        "return an instance of the model (or data with its fields), or change the model"
    )
