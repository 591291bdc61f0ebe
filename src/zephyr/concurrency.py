"""Running blocking code off the event loop, in the application's bounded thread pool."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Executor, ThreadPoolExecutor

__all__ = ["make_thread_pool", "run_sync", "use_pool_finder"]

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
