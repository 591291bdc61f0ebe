"""Cancelling a handler whose client has gone away, at no cost to handlers that never wait.

Only routes whose handler, middleware or hooks can suspend are watched, and a
watched endpoint is driven one step by hand first: if it finishes without
yielding to the event loop (the common case) nothing else happens. If it
suspends, a watcher task starts listening for ``http.disconnect`` and
cancels the request's task when it comes. The rest of the endpoint runs in
the same task, so ``asyncio.timeout``, task groups and context variables
behave exactly as with a plain ``await``. The watcher only listens once the
request body has been read, so it never steals body messages.
"""

from __future__ import annotations

import asyncio
import dis
import inspect
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

from zephyr.concurrency import resume
from zephyr.context import request_var
from zephyr.middleware import Endpoint

if TYPE_CHECKING:
    from zephyr.requests import Request
    from zephyr.responses import Response

__all__ = ["DisconnectWatcher", "can_suspend", "watching"]

_SUSPENDING_OPS = frozenset(
    {"GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "BEFORE_ASYNC_WITH", "YIELD_VALUE"}
)


def can_suspend(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` may wait on the event loop (conservative: unknown means yes).

    An ``async def`` with no ``await``, ``async for`` or ``async with`` runs to
    completion in one step; anything else (plain ``def`` handlers go to the
    thread pool) may wait.
    """
    target = inspect.unwrap(fn)
    if not inspect.iscoroutinefunction(target) or not hasattr(target, "__code__"):
        return True
    return any(op.opname in _SUSPENDING_OPS for op in dis.get_instructions(target.__code__))


def watching(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` cancelled when its client disconnects while it waits."""

    # PERF: a plain function returning the awaitable saves a coroutine frame.
    def watched(request: Request) -> Awaitable[Response]:
        # Endpoints are always coroutines (composed from async functions).
        return _step_then_watch(endpoint(request), request)  # type: ignore[arg-type]

    return watched


@types.coroutine
def _step_then_watch(
    coro: Coroutine[Any, Any, Any], request: Request
) -> Generator[Any, Any, Any]:
    """Await ``coro``, arming the watcher only if it suspends."""
    # PERF: one manual step; a coroutine that finishes here never starts a watcher.
    try:
        yielded = coro.send(None)
    except StopIteration as done:
        return done.value
    DisconnectWatcher.arm(request)
    return (yield from resume(coro, yielded))


class DisconnectWatcher:
    """Watches one request's ``receive`` channel for the client going away."""

    __slots__ = ("disconnected", "request", "task", "waiting_for_body", "watch")

    def __init__(self, request: Request, task: asyncio.Task[Any]) -> None:
        self.request = request
        self.task = task
        self.watch: asyncio.Task[None] | None = None
        self.disconnected = False
        self.waiting_for_body = False

    @staticmethod
    def arm(request: Request | None = None) -> None:
        """Start watching ``request`` (default: the current one) for the current task."""
        if request is None:
            request = request_var.get(None)
        task = asyncio.current_task()
        if request is None or task is None or request.watcher is not None:
            return
        watcher = DisconnectWatcher(request, task)
        request.watcher = watcher
        if request.is_body_done or (not request.is_body_started and _has_no_body(request)):
            watcher.start()
        else:
            # The handler owns the receive channel until the body is read.
            watcher.waiting_for_body = True

    def start(self) -> None:
        """Listen for ``http.disconnect`` from now on."""
        self.waiting_for_body = False
        self.watch = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        request = self.request
        receive = request.receive
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "http.disconnect":
                self.disconnected = True
                self.task.cancel()
                return
            if kind == "http.request":
                request.settle_empty_body(message)

    @staticmethod
    def absorb(request: Request) -> bool:
        """Whether the current cancellation came from the watcher; if so, undo it."""
        watcher = request.watcher
        if not isinstance(watcher, DisconnectWatcher) or not watcher.disconnected:
            return False
        watcher.task.uncancel()
        return True

    def stop(self) -> None:
        """Stop listening (the response is out)."""
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None


def _has_no_body(request: Request) -> bool:
    """Whether the request announced an empty body (no length, no chunked encoding)."""
    for name, value in request.scope["headers"]:
        if name == b"content-length":
            return bool(value.strip() == b"0")
        if name == b"transfer-encoding":
            return False
    return True
