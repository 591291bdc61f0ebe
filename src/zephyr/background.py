"""Background tasks: functions run after the response has been sent.

``response.add_task(fn, ...)`` queues one on a response; a handler or
dependency that takes a :class:`BackgroundTasks` parameter queues them there.
Either way they run in order once the response is out, and a failure is
logged on ``zephyr.tasks``, never sent to the client.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from zephyr.concurrency import run_sync

__all__ = ["BackgroundTasks", "Task", "run_tasks"]

logger = logging.getLogger("zephyr.tasks")

#: A background task: the function and the arguments it is called with.
Task = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


async def run_tasks(tasks: Iterable[Task]) -> None:
    """Run ``tasks`` in order: async ones on the loop, the others in the thread pool."""
    for fn, args, kwargs in tasks:
        try:
            if inspect.iscoroutinefunction(fn):
                await fn(*args, **kwargs)
            else:
                result = await run_sync(fn, *args, **kwargs)
                if inspect.isawaitable(result):  # an object with an async __call__, a lambda
                    await result
        except Exception:
            logger.exception("background task %r failed", getattr(fn, "__name__", fn))


class BackgroundTasks:
    """Functions to run after the response is sent: take it as a handler or dependency parameter.

    >>> async def signup(tasks: BackgroundTasks) -> dict[str, bool]:
    ...     tasks.add_task(send_welcome_email, "ada@example.com")
    ...     return {"ok": True}

    A handler and its dependencies share one per request. The tasks run, in the
    order they were added, once the response is sent and only if the handler
    returned (not when it raised); failures are logged on ``zephyr.tasks``.
    """

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        #: The tasks added so far, as ``(fn, args, kwargs)``.
        self.tasks: list[Task] = []

    def add_task(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` (sync or async) after the response is sent."""
        self.tasks.append((fn, args, kwargs))

    async def after_response(self, error: BaseException | None) -> None:
        """Run the tasks unless the request failed (a request cleanup, see ``add_cleanup``)."""
        if error is None:
            await run_tasks(self.tasks)
