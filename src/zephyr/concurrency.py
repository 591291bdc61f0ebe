"""Running blocking code off the event loop, in the application's bounded thread pool."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import types
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Executor, ThreadPoolExecutor

__all__ = ["make_thread_pool", "resume", "run_sync", "use_pool_finder"]

P = ParamSpec("P")
T = TypeVar("T")


def _no_pool() -> Executor | None:
    return None


_find_pool: Callable[[], Executor | None] = _no_pool


def use_pool_finder(find: Callable[[], Executor | None]) -> None:
    """Tell :func:`run_sync` how to find the current app's pool (``zephyr.context`` does).

    This module sits below the request context, so the context hands the lookup down.
    """
    global _find_pool
    _find_pool = find


def make_thread_pool(size: int) -> ThreadPoolExecutor:
    """The pool that runs plain ``def`` handlers and other blocking calls."""
    # NOTE: concurrent.futures.thread loads with the first pool, not with Zephyr.
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="zephyr-sync")


async def run_sync(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn`` in a worker thread and await its result.

    Context variables (``request``, ``g``...) are visible in the thread. The
    thread pool is the current application's (bounded by ``THREAD_POOL_SIZE``)
    during a request, else the event loop's default one.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(_find_pool(), call)


@types.coroutine
def resume(coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting ``coroutine``, already stepped by hand and now waiting on ``waiting_on``.

    Exactly as ``await`` would: what the task sends or throws in (cancellation included)
    goes on to the coroutine, and closing closes it. PERF: stepping a coroutine once by hand
    lets a caller skip work (a timer, a watcher) when it finishes at once.
    """
    while True:
        try:
            sent = yield waiting_on
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration as done:
                return done.value
