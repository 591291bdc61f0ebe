"""Dependency injection: ``Depends(fn)``, solved once per request, cleaned up after the response.

A dependency is any callable; its own parameters are filled like a
handler's (path, query, headers, body, other dependencies...). Within one
request each dependency runs once and its value is shared. A dependency that
``yield``\\s a value is a context manager: the code after ``yield`` runs after
the response has been sent, and sees the handler's exception if there was one.
Plain ``def`` dependencies run in the thread pool, like plain handlers.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from zephyr.concurrency import run_sync

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = ["Dependency", "Depends", "Overrides"]

logger = logging.getLogger("zephyr.di")
_SOLVED = "zephyr.dependencies"


class Depends:
    """Mark a parameter as provided by ``dependency``.

    ``db: Annotated[Session, Depends(get_session)]`` or
    ``db: Session = Depends(get_session)``; ``Depends()`` with no argument
    uses the annotated class itself as the dependency. ``use_cache=False``
    runs it again each time it is asked for within a request.
    """

    __slots__ = ("dependency", "use_cache")

    def __init__(self, dependency: Callable[..., Any] | None = None, *,
                 use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", self.dependency)
        return f"Depends({name})"


class PlanLike(Protocol):
    """What a dependency needs from the argument plan of its own parameters."""

    needs_awaiting: bool

    def sync_values(self, request: Request) -> dict[str, Any]: ...

    async def values(self, request: Request) -> dict[str, Any]: ...

    async def call(self, fn: Callable[..., Awaitable[Any]], request: Request) -> Any: ...


class Overrides(Protocol):
    """Stand-ins for dependencies (``app.dependency_overrides``, see ``zephyr._plan``)."""

    def __contains__(self, dependency: object, /) -> bool: ...

    def __len__(self) -> int: ...

    def stand_in(self, dependency: Callable[..., Any]) -> Dependency: ...


class Dependency:
    """A dependency ready to run: the callable, how it returns, its parameter plan."""

    __slots__ = ("fn", "kind", "overrides", "plan", "use_cache")

    def __init__(self, fn: Callable[..., Any], plan: PlanLike, *, use_cache: bool,
                 overrides: Overrides | None = None) -> None:
        self.fn = fn
        self.plan = plan
        self.use_cache = use_cache
        self.overrides = overrides
        self.kind = _kind_of(fn)

    async def solve(self, request: Request) -> Any:
        """This dependency's value for ``request`` (cached per request unless told not to)."""
        solved: dict[Callable[..., Any], Any] = request.scope.setdefault(_SOLVED, {})
        if self.use_cache and self.fn in solved:
            return solved[self.fn]
        overrides = self.overrides
        if overrides and self.fn in overrides:
            value = await overrides.stand_in(self.fn).solve(request)
        else:
            plan = self.plan
            if self.kind != "async":
                value = await self._enter(request, await plan.values(request))
            elif plan.needs_awaiting:
                value = await plan.call(self.fn, request)
            else:
                # PERF: most dependencies take nothing that needs awaiting (or nothing at all).
                value = await self.fn(**plan.sync_values(request))
        if self.use_cache:
            solved[self.fn] = value
        return value

    async def _enter(self, request: Request, kwargs: dict[str, Any]) -> Any:
        """Call a sync or generator dependency (generators get their cleanup registered)."""
        fn, kind = self.fn, self.kind
        if kind == "sync":
            return await run_sync(fn, **kwargs)
        if kind == "async_gen":
            manager: Any = contextlib.asynccontextmanager(fn)(**kwargs)
            value = await manager.__aenter__()
            request.add_cleanup(_async_exit(manager))
            return value
        manager = contextlib.contextmanager(fn)(**kwargs)
        value = await run_sync(manager.__enter__)
        request.add_cleanup(_sync_exit(manager))
        return value

    def __repr__(self) -> str:
        return f"Dependency({getattr(self.fn, '__qualname__', self.fn)}, {self.kind})"


def _kind_of(fn: Callable[..., Any]) -> str:
    target = inspect.unwrap(fn)
    if not inspect.isroutine(target) and not inspect.isclass(target):
        target = getattr(target, "__call__", target)  # noqa: B004 - callable instances
    if inspect.isasyncgenfunction(target):
        return "async_gen"
    if inspect.isgeneratorfunction(target):
        return "sync_gen"
    if inspect.iscoroutinefunction(target):
        return "async"
    return "sync"


Cleanup = Callable[[BaseException | None], Awaitable[None]]


def _async_exit(manager: Any) -> Cleanup:
    async def exit_(exc: BaseException | None) -> None:
        await manager.__aexit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    return exit_


def _sync_exit(manager: Any) -> Cleanup:
    async def exit_(exc: BaseException | None) -> None:
        await run_sync(
            manager.__exit__, type(exc) if exc else None, exc, exc.__traceback__ if exc else None
        )

    return exit_
