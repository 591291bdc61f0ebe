"""Running blocking code off the event loop, in the application's bounded thread pool."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from zephyr.context import current_executor

__all__ = ["make_thread_pool", "run_sync"]

P = ParamSpec("P")
T = TypeVar("T")


def make_thread_pool(size: int) -> ThreadPoolExecutor:
    """The pool that runs plain ``def`` handlers and other blocking calls."""
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="zephyr-sync")


async def run_sync(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn`` in a worker thread and await its result.

    Context variables (``request``, ``g``...) are visible in the thread. The
    thread pool is the current application's (bounded by ``THREAD_POOL_SIZE``)
    during a request, else the event loop's default one.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(current_executor(), call)
