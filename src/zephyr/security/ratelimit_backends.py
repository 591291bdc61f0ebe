"""Rate-limit counters: the ``Rate`` type and the memory and Redis backends behind ``@limit``.

Fixed windows per (key, rate): a window opens at the key's first hit and lasts one period.
"""

from __future__ import annotations

import abc
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zephyr.errors import SetupError, ZephyrError
from zephyr.security._redis_url import without_password

__all__ = [
    "MemoryRateLimitBackend",
    "Rate",
    "RateLimitBackend",
    "RateLimitBackendError",
    "RateLimitResult",
    "RedisRateLimitBackend",
]

logger = logging.getLogger("zephyr.security")

_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_RATE = re.compile(
    r"\s*(\d+)\s*(?:/|\s+per\s+)\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*", re.ASCII | re.IGNORECASE
)
_FORMS = (
    "'10/minute', '10/min', '5/second', '5/s', '100/hour', '1000/day', '10/5minutes', "
    "'10/30s' or '10 per minute'"
)


class RateLimitBackendError(ZephyrError):
    """The rate-limit store (Redis) cannot be reached."""


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` requests per ``period`` seconds; ``Rate.parse("10/minute")``."""

    limit: int
    period: float

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise SetupError(
                f"a rate's limit must be a whole number of requests, at least 1; "
                f"got {self.limit!r}"
            )
        period = self.period
        if (isinstance(period, bool) or not isinstance(period, int | float)
                or not math.isfinite(period) or period < 0.001):
            raise SetupError(
                f"a rate's period must be a number of seconds, at least 0.001; got {period!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read a rate written as ``"10/minute"``, ``"10/5minutes"``, ``"10 per minute"``...

        Units: s, sec, second, m, min, minute, h, hr, hour, d, day (plurals too, any case).
        """
        match = _RATE.fullmatch(text) if isinstance(text, str) else None
        unit = _SECONDS.get(match.group(3).lower()) if match else None
        if match is None or unit is None:
            raise SetupError(f"{text!r} is not a rate; write a count per period: {_FORMS}")
        count = float(match.group(2)) if match.group(2) else 1
        try:
            return cls(int(match.group(1)), count * unit)
        except SetupError as exc:
            raise SetupError(f"rate {text!r}: {exc}") from None

    def __str__(self) -> str:
        period = float(self.period)
        seconds = str(int(period)) if period.is_integer() else repr(period)
        return f"{self.limit}/{seconds}s"


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """The verdict on one request, with what ``RateLimit-*``/``Retry-After`` headers need."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


def _verdict(rate: Rate, count: int, reset_after: float, *, counted: bool) -> RateLimitResult:
    """The result for a window holding ``count``; ``counted``: this request is among them."""
    allowed = count <= rate.limit if counted else count < rate.limit
    return RateLimitResult(
        allowed, rate.limit, max(0, rate.limit - count), reset_after,
        0.0 if allowed else reset_after,
    )


def _check_cost(cost: int) -> None:
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
        raise SetupError(f"a rate-limited request costs a whole number, at least 1; got {cost!r}")


class RateLimitBackend(abc.ABC):
    """Where counters live: ``hit`` counts a request, ``peek`` looks, ``reset`` forgets a key.

    Fixed windows per (key, rate): the window opens at the first hit and lasts
    ``rate.period``. Denied hits count too, so hammering never shortens a wait;
    ``remaining`` stops at 0.
    """

    @abc.abstractmethod
    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateLimitResult:
        """Count a request costing ``cost`` against ``key`` and say whether it is allowed."""

    @abc.abstractmethod
    async def peek(self, key: str, rate: Rate) -> RateLimitResult:
        """What ``hit`` would answer, without counting: ``allowed`` means one more would pass."""

    @abc.abstractmethod
    async def reset(self, key: str) -> None:
        """Forget every window of ``key``, for all rates (e.g. after a successful login)."""

    async def close(self) -> None:  # noqa: B027 (optional hook: most backends hold nothing)
        """Release connections; nothing to release by default."""


class _Window:
    __slots__ = ("count", "ends_at")

    def __init__(self, ends_at: float) -> None:
        self.count = 0
        self.ends_at = ends_at


class MemoryRateLimitBackend(RateLimitBackend):
    """Counters in a dict, for one process: tests, development, a single worker.

    Each worker process counts alone, so ``--workers N`` lets a client make N
    times the rate; use :class:`RedisRateLimitBackend` there.

    Memory stays bounded, and no window is forgotten before it ends: a rate's
    ended windows are dropped when the rate is next hit, and at most
    ``max_keys`` keys are held. A new key that finds the table full of live
    windows is refused (``hit`` and ``peek`` say not allowed, until the first
    window ends; a warning is logged once each time the table fills), so a
    flood of made-up keys can make new clients wait but cannot reset the count
    of a key already held. Each hit costs O(1), amortised.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise SetupError(f"MemoryRateLimitBackend(max_keys={max_keys!r}): use an int >= 1")
        self._clock = clock
        self._max_keys = max_keys
        self._keys: dict[str, dict[Rate, _Window]] = {}
        # Each rate's windows in the order they opened, which (one period each) is the
        # order they end in: the ended ones are always at the front.
        self._ending: dict[Rate, deque[tuple[str, _Window]]] = {}
        self._refusing = False  # new keys are refused (and that was logged)

    def clear(self) -> None:
        """Forget every counter (between tests that share an app, say)."""
        self._keys.clear()
        self._ending.clear()
        self._refusing = False

    def __len__(self) -> int:
        """How many keys are held (with ended windows until their rate is next hit)."""
        return len(self._keys)

    # NOTE: no method awaits between reading and writing a count, so the event loop
    # cannot interleave two hits: each runs to completion, and no lock is needed.

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateLimitResult:
        _check_cost(cost)
        now = self._clock()
        self._drop_ended(rate, now)
        window = self._live_window(key, rate, now) or self._open_window(key, rate, now)
        if window is None:
            return self._refusal(rate, now)
        window.count += cost
        return _verdict(rate, window.count, window.ends_at - now, counted=True)

    async def peek(self, key: str, rate: Rate) -> RateLimitResult:
        now = self._clock()
        self._drop_ended(rate, now)  # as hit does, so both see the same keys
        window = self._live_window(key, rate, now)
        if window is not None:
            return _verdict(rate, window.count, window.ends_at - now, counted=False)
        if key not in self._keys and not self._has_room(now):
            return self._refusal(rate, now)
        return _verdict(rate, 0, rate.period, counted=False)

    async def reset(self, key: str) -> None:
        # Its windows stay queued until they would have ended; _drop_ended skips them.
        self._keys.pop(key, None)

    def _live_window(self, key: str, rate: Rate, now: float) -> _Window | None:
        windows = self._keys.get(key)
        window = windows.get(rate) if windows is not None else None
        return window if window is not None and window.ends_at > now else None

    def _open_window(self, key: str, rate: Rate, now: float) -> _Window | None:
        """A new window for ``key``, or ``None`` when it is a new key and there is no room."""
        windows = self._keys.get(key)
        if windows is None:
            if not self._has_room(now):
                return None
            windows = self._keys[key] = {}
        window = windows[rate] = _Window(now + rate.period)
        queue = self._ending.get(rate)
        if queue is None:
            queue = self._ending[rate] = deque()
        queue.append((key, window))
        return window

    def _has_room(self, now: float) -> bool:
        """Whether a new key fits, after dropping every ended window if the table is full."""
        if len(self._keys) >= self._max_keys:
            for rate in list(self._ending):
                self._drop_ended(rate, now)
        if len(self._keys) < self._max_keys:
            self._refusing = False
            return True
        if not self._refusing:
            self._refusing = True
            logger.warning(
                "the memory rate-limit backend holds max_keys=%d keys whose windows have not "
                "ended, so requests counted under a new key get 429 until one ends; raise "
                "max_keys, or set RATE_LIMIT_BACKEND=redis", self._max_keys,
            )
        return False

    def _refusal(self, rate: Rate, now: float) -> RateLimitResult:
        # SECURITY: a full table refuses the new key rather than forget a live window, which
        # would give that key a fresh count: flooding made-up keys (a key= the client
        # chooses) must not reset anyone's login limit. New keys wait for the first end.
        wait = min(queue[0][1].ends_at for queue in self._ending.values()) - now
        return RateLimitResult(False, rate.limit, 0, wait, wait)

    def _drop_ended(self, rate: Rate, now: float) -> None:
        """Forget the windows of ``rate`` that have ended: O(1) per window over its life."""
        queue = self._ending.get(rate)
        if queue is None:
            return
        while queue and queue[0][1].ends_at <= now:
            key, window = queue.popleft()
            windows = self._keys.get(key)
            # A key reset (and maybe hit again) since: this window is no longer its own.
            if windows is not None and windows.get(rate) is window:
                del windows[rate]
                if not windows:
                    del self._keys[key]
        if not queue:
            del self._ending[rate]


# KEYS[1] the counter, KEYS[2] the set of the key's counters (for reset);
# ARGV[1] the cost (0: only look), ARGV[2] the period in milliseconds.
_COUNT_SCRIPT = """
local cost = tonumber(ARGV[1])
if cost == 0 then
  return {tonumber(redis.call('GET', KEYS[1]) or 0), redis.call('PTTL', KEYS[1])}
end
local count = redis.call('INCRBY', KEYS[1], cost)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  local period = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], period)
  ttl = period
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < period then
    redis.call('PEXPIRE', KEYS[2], period)
  end
end
return {count, ttl}
"""
# KEYS[1] the set of a key's counters; deletes them and the set, atomically.
# NOTE: the counters it deletes are not in KEYS, so this needs a single Redis, not a Cluster.
_RESET_SCRIPT = """
for _, counter in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', counter)
end
return redis.call('DEL', KEYS[1])
"""


class RedisRateLimitBackend(RateLimitBackend):
    """Counters in Redis, exact across processes and hosts (needs the ``redis`` extra).

    One Lua script increments, sets the expiry of a new window and reads the
    time left in a single atomic step. Counter keys look like
    ``<prefix><limit>/<period>ms:<key>``, so two rates on one key never clash.
    A ``client`` passed in is used as is and left open by :meth:`close`.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "zephyr:ratelimit:",
        client: Any = None,
    ) -> None:
        try:
            import redis.asyncio
            import redis.exceptions
        except ImportError:
            raise SetupError(
                "RedisRateLimitBackend needs the 'redis' package: pip install 'zephyr[redis]' "
                "(or set RATE_LIMIT_BACKEND=memory)"
            ) from None
        self._url = without_password(url)
        self._prefix = prefix
        self._owns_client = client is None
        if client is None:
            try:
                # NOTE: the limiter sits on every request; without timeouts a Redis that
                # stops answering would hang them all. Options in the URL take precedence.
                client = redis.asyncio.Redis.from_url(
                    url, socket_connect_timeout=5.0, socket_timeout=5.0
                )
            except ValueError as exc:
                raise SetupError(f"{self._url!r} is not a Redis URL: {exc}") from None
        self._client = client
        self._count = client.register_script(_COUNT_SCRIPT)
        self._reset = client.register_script(_RESET_SCRIPT)
        self._unreachable: tuple[type[Exception], ...] = (
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError
        )

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateLimitResult:
        _check_cost(cost)
        count, ttl = await self._run(self._count, key, rate, cost)
        return _verdict(rate, count, max(ttl, 1) / 1000, counted=True)

    async def peek(self, key: str, rate: Rate) -> RateLimitResult:
        count, ttl = await self._run(self._count, key, rate, 0)
        if ttl <= 0:  # no window open (-2), or one that is ending this millisecond
            return _verdict(rate, 0, rate.period, counted=False)
        return _verdict(rate, count, ttl / 1000, counted=False)

    async def reset(self, key: str) -> None:
        await self._call(self._reset, [f"{self._prefix}rates:{key}"], [])

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _run(self, script: Any, key: str, rate: Rate, cost: int) -> tuple[int, int]:
        period_ms = round(rate.period * 1000)
        counter = f"{self._prefix}{rate.limit}/{period_ms}ms:{key}"
        reply = await self._call(script, [counter, f"{self._prefix}rates:{key}"],
                                 [cost, period_ms])
        return int(reply[0]), int(reply[1])

    async def _call(self, script: Any, keys: list[str], args: list[int]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except self._unreachable as exc:
            raise RateLimitBackendError(
                f"Redis at {self._url!r} is unreachable: start Redis there, correct the URL, "
                f"or set RATE_LIMIT_BACKEND=memory to count in this process only ({exc})"
            ) from exc
