"""The app's life around its requests: lifespan contexts, startup and shutdown functions,
and the ASGI lifespan protocol that runs them.

``Lifespan`` holds what was registered; the app enters it at startup (contexts in
registration order, then startup functions) and exits it at shutdown (shutdown
functions, then contexts in reverse).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from zephyr._types import Receive, Scope, Send
from zephyr.middleware import accepted_shape

__all__ = ["Lifespan", "LifespanFactory", "serve_lifespan"]

logger = logging.getLogger("zephyr")
LifespanFactory = Callable[..., AbstractAsyncContextManager[Any]]


class Lifespan:
    """Lifespan contexts and startup/shutdown functions, entered and exited in order."""

    __slots__ = ("_contexts", "_shutdown", "_stack", "_startup")

    def __init__(self) -> None:
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._contexts: list[tuple[LifespanFactory, bool]] = []
        self._stack: AsyncExitStack | None = None

    def add_startup(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` (sync or async) at startup, after the contexts are entered."""
        self._startup.append(fn)

    def add_shutdown(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` (sync or async) at shutdown, before the contexts exit."""
        self._shutdown.append(fn)

    def add_context(self, factory: LifespanFactory) -> None:
        """Enter ``factory(app)`` or ``factory()`` (whichever it takes) around the app's life."""
        takes_app = accepted_shape(factory, "lifespan factory", {0: "()", 1: "(app)"}) == 1
        self._contexts.append((factory, takes_app))

    async def enter(self, app: object, state: dict[str, Any] | None) -> None:
        """Enter the contexts, then run the startup functions; a mapping a context yields
        is added to ``state``. On failure, what was entered is exited again."""
        stack = AsyncExitStack()
        try:
            for factory, takes_app in self._contexts:
                context = factory(app) if takes_app else factory()
                provided = await stack.enter_async_context(context)
                if isinstance(provided, Mapping) and state is not None:
                    state.update(provided)
            for fn in self._startup:
                await _maybe_await(fn())
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def exit(self) -> None:
        """Run the shutdown functions, then exit the contexts in reverse."""
        for fn in self._shutdown:
            await _maybe_await(fn())
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()


async def serve_lifespan(scope: Scope, receive: Receive, send: Send, *,
                         startup: Callable[[dict[str, Any] | None], Awaitable[None]],
                         shutdown: Callable[[], Awaitable[None]]) -> None:
    """Answer the ASGI lifespan protocol with ``startup(state)`` and ``shutdown()``.

    A failure is logged and reported to the server (``lifespan.*.failed``), which
    then exits instead of serving a half-started app.
    """
    message = await receive()
    if message["type"] != "lifespan.startup":
        return
    try:
        await startup(scope.get("state"))
    except Exception as exc:
        logger.exception("application startup failed")
        await send({"type": "lifespan.startup.failed", "message": _describe(exc)})
        return
    await send({"type": "lifespan.startup.complete"})
    await receive()  # lifespan.shutdown
    try:
        await shutdown()
    except Exception as exc:
        logger.exception("application shutdown failed")
        await send({"type": "lifespan.shutdown.failed", "message": _describe(exc)})
        return
    await send({"type": "lifespan.shutdown.complete"})


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
