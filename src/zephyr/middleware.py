"""Middleware: the ``(request, call_next)`` protocol, hooks, and composing chains once.

Order, outermost first (each list in registration order):

1. ASGI middleware (``app.add_asgi_middleware``), then mounted apps are matched;
2. app middleware (``@app.middleware``), around routing;
3. for the matched route: app ``before_request`` hooks, then each group's from
   the outermost in; group middleware (outermost group first), then the
   route's own ``middleware=[...]``; the handler; ``after_request`` hooks from
   the innermost group out to the app's (they also see error responses).

Every chain is built at startup; per request only the composed functions run.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from zephyr._types import ASGIApp
from zephyr.errors import SetupError
from zephyr.responses import Response, to_response

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = ["CallNext", "Endpoint", "Middleware", "accepted_shape", "compose", "with_hooks"]

#: What every layer of the request path is: an async function from request to response.
Endpoint = Callable[["Request"], Awaitable[Response]]
#: The next step of a middleware chain.
CallNext = Endpoint
Middleware = Callable[["Request", CallNext], Awaitable[Any]]
BeforeHook = Callable[["Request"], Awaitable[Any]]
AfterHook = Callable[["Request", Response], Awaitable[Response]]


def compose(middleware: Sequence[Middleware], innermost: CallNext) -> CallNext:
    """Wrap ``innermost`` so that ``middleware[0]`` runs first and sees the final response."""
    handler = innermost
    for mw in reversed(middleware):
        handler = _bind(mw, handler)
    return handler


def _bind(mw: Middleware, call_next: CallNext) -> CallNext:
    async def call(request: Request) -> Response:
        # A middleware may answer by itself with any value a handler may return.
        return to_response(await mw(request, call_next), 200, mw)

    return call


def check_middleware(mw: Any) -> None:
    """Refuse at registration what cannot work as ``async (request, call_next)``."""
    target = mw if inspect.isfunction(mw) or inspect.ismethod(mw) else type(mw).__call__
    if not inspect.iscoroutinefunction(target):
        raise SetupError(
            f"middleware {getattr(mw, '__qualname__', mw)!r} must be an async function "
            "taking (request, call_next); for ASGI middleware classes use "
            "app.add_asgi_middleware(cls, **options)"
        )


def with_hooks(
    inner: CallNext,
    before: Sequence[BeforeHook],
    after: Sequence[AfterHook],
    on_error: Callable[[Request, Exception], Awaitable[Response]],
) -> CallNext:
    """``inner`` guarded by the error handlers, between before- and after-request hooks."""

    async def call(request: Request) -> Response:
        try:
            for before_hook in before:
                early = await before_hook(request)
                if early is not None:
                    response = to_response(early, 200, before_hook)
                    break
            else:
                response = await inner(request)
        except Exception as exc:
            response = await on_error(request, exc)
        for after_hook in after:
            response = await after_hook(request, response)
        return response

    return call


def adapt_before(fn: Callable[..., Any]) -> BeforeHook:
    """Accept ``fn()`` or ``fn(request)``, sync or async; its non-None result answers."""
    takes = accepted_shape(fn, "before_request hook", {0: "()", 1: "(request)"})

    async def hook(request: Request) -> Any:
        result = fn(request) if takes else fn()
        return await result if inspect.isawaitable(result) else result

    return hook


def adapt_after(fn: Callable[..., Any]) -> AfterHook:
    """Accept ``fn(response)`` or ``fn(request, response)``; ``None`` keeps the response."""
    takes = accepted_shape(fn, "after_request hook", {1: "(response)", 2: "(request, response)"})

    async def hook(request: Request, response: Response) -> Response:
        result = fn(request, response) if takes == 2 else fn(response)
        if inspect.isawaitable(result):
            result = await result
        return response if result is None else to_response(result, 200, fn)

    return hook


def adapt_teardown(fn: Callable[..., Any]) -> Callable[[Request, BaseException | None], Any]:
    """Accept ``fn(exc)`` or ``fn(request, exc)``; runs after the response is sent."""
    takes = accepted_shape(fn, "teardown_request hook", {1: "(exc)", 2: "(request, exc)"})

    async def hook(request: Request, exc: BaseException | None) -> None:
        result = fn(request, exc) if takes == 2 else fn(exc)
        if inspect.isawaitable(result):
            await result

    return hook


def accepted_shape(fn: Callable[..., Any], kind: str, shapes: dict[int, str], *,
                   unknown: int | None = None) -> int:
    """How many positional arguments to call ``fn`` with: the richest of ``shapes`` it accepts.

    ``shapes`` maps an argument count to how it reads (``{1: "(exc)", 2: "(request, exc)"}``).
    A shape fits when ``inspect.Signature.bind`` accepts that many positional arguments
    and none of them lands on a parameter with a default (so ``lambda name=name: ...``
    keeps its default); ``*args``, ``functools.partial``, callable objects and bound
    methods fit by what they can take. ``unknown`` (default: the richest shape) is the
    answer when ``fn`` has no signature. A callable that fits no shape is a SetupError.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return max(shapes) if unknown is None else unknown
    parameters = signature.parameters
    for count in sorted(shapes, reverse=True):
        try:
            bound = signature.bind(*range(count))
        except TypeError:
            continue
        if all(parameters[name].kind is inspect.Parameter.VAR_POSITIONAL
               or parameters[name].default is inspect.Parameter.empty
               for name in bound.arguments):
            return count
    raise SetupError(
        f"{kind} {getattr(fn, '__qualname__', fn)!r} must take "
        f"{' or '.join(shapes.values())}, but its signature is {signature}"
    )


def wrap_asgi(app: ASGIApp, layers: Sequence[tuple[Callable[..., Any], dict[str, Any]]]) -> ASGIApp:
    """Wrap ``app`` in ASGI middleware classes; the first registered ends up outermost."""
    wrapped = app
    for cls, options in reversed(layers):
        wrapped = cls(wrapped, **options)
    return wrapped
