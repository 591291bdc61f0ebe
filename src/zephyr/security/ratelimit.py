"""Rate limits on routes, groups and path prefixes, and the security-failure throttle.

``@limit("10/minute")`` (per client by default, or ``key=``) counts requests in
the configured backend (:mod:`zephyr.security.ratelimit_backends`); beyond the
limit the answer is 429 with ``Retry-After``, and every limited response
carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``.
A client is its address, an IPv6 one by its network (:func:`per_client`).
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from zephyr.audit import log_refusal
from zephyr.errors import SetupError, TooManyRequests
from zephyr.security.ratelimit_backends import Rate, RateLimitBackend, RateLimitResult

if TYPE_CHECKING:
    from zephyr.requests import Request
    from zephyr.responses import Response

__all__ = [
    "FailureThrottle",
    "Limit",
    "client_address",
    "limit",
    "per_client",
    "record_failure",
]

F = TypeVar("F", bound=Callable[..., Any])
KeyFunction = Callable[["Request"], str | Awaitable[str]]
#: The key of a request's client, computed at once (the failure throttle cannot wait).
ClientKey = Callable[["Request"], str]
LIMITS_ATTRIBUTE = "__zephyr_limits__"


def client_address(request: Request) -> str:
    """The client's address (after trusted-proxy rewriting), whole."""
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def per_client(ipv6_prefix: int = 64) -> ClientKey:
    """The key that counts one client: its address, an IPv6 one by its ``/ipv6_prefix`` network.

    One host commonly holds a whole IPv6 /64 and may send from any of its 2^64
    addresses, so counting addresses would let it rotate past every limit.
    IPv4 addresses count whole, an IPv4-mapped ``::ffff:a.b.c.d`` as its IPv4
    address; anything else (a Unix socket's peer, a test client's name) as given.
    The app builds it from ``RATE_LIMIT_IPV6_PREFIX`` at startup.
    """
    if (isinstance(ipv6_prefix, bool) or not isinstance(ipv6_prefix, int)
            or not 1 <= ipv6_prefix <= 128):
        raise SetupError(
            "RATE_LIMIT_IPV6_PREFIX must be a prefix length from 1 to 128 (64 counts each "
            f"IPv6 /64 network as one client); got {ipv6_prefix!r}"
        )
    host_bits = 128 - ipv6_prefix

    # PERF: bounded, so rotating addresses cannot grow it; a client's later requests
    # skip the parse.
    @functools.lru_cache(maxsize=4096)
    def network_of(host: str) -> str:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return host
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Address(int(address) >> host_bits << host_bits)
        return f"{network}/{ipv6_prefix}"

    def key(request: Request) -> str:
        client = request.scope.get("client")
        host = str(client[0]) if client else "unknown"
        # PERF: an IPv4 address (no colon) is its own key, with no parse.
        return network_of(host) if ":" in host else host

    return key


#: The per-client key of a limit used outside an app (an app keys by its setting).
_PER_CLIENT = per_client()


@dataclass(frozen=True, slots=True)
class Limit:
    """One rate limit: ``rate`` per ``key`` (``None``: per client, see :func:`per_client`).

    Use it as a decorator on a handler (``@limit("5/minute")``) or in a
    group's or route's ``limits=[...]``.
    """

    rate: Rate
    key: KeyFunction | None = None
    scope: str = field(default="", compare=False)

    def __call__(self, handler: F) -> F:
        existing = getattr(handler, LIMITS_ATTRIBUTE, ())
        setattr(handler, LIMITS_ATTRIBUTE, (*existing, self))
        return handler

    def bound(self, scope: str, client: ClientKey = _PER_CLIENT) -> Limit:
        """This limit counting in its own namespace (a route, group or prefix), per
        ``client`` (the app's :func:`per_client`) unless it has a ``key`` of its own."""
        return Limit(self.rate, self.key or client, scope)

    async def hit(self, backend: RateLimitBackend, request: Request) -> RateLimitResult:
        """Count ``request``; raise 429 when over the limit."""
        key = (self.key or _PER_CLIENT)(request)
        if not isinstance(key, str):
            key = await key
        result = await backend.hit(f"{self.scope}|{key}", self.rate)
        if not result.allowed:
            log_refusal("rate-limited", request.scope, f"over {self.rate}", limit=str(self.rate))
            raise TooManyRequests(
                f"too many requests: the limit is {self.rate.limit} per "
                f"{self.rate.period:g} seconds; try again in {math.ceil(result.retry_after)} "
                "seconds", retry_after=result.retry_after, headers=rate_limit_headers(result),
            )
        return result


def limit(rate: str, *, key: KeyFunction | None = None) -> Limit:
    """A rate limit like ``"10/minute"``, per client or per ``key(request)``."""
    if key is not None and not callable(key):
        raise SetupError(f"limit({rate!r}, key=...) needs a function of the request, "
                         f"not {key!r}")
    return Limit(Rate.parse(rate), key)


def rate_limit_headers(result: RateLimitResult) -> dict[str, str]:
    """The ``RateLimit-*`` headers (draft-ietf-httpapi-ratelimit-headers) for ``result``."""
    return {
        "RateLimit-Limit": str(result.limit),
        "RateLimit-Remaining": str(result.remaining),
        "RateLimit-Reset": str(math.ceil(result.reset_after)),
    }


def add_rate_limit_headers(response: Response, result: RateLimitResult) -> None:
    """Put the headers of the tightest limit on a response that passed."""
    headers = response.headers
    for name, value in rate_limit_headers(result).items():
        headers.setdefault(name, value)


class FailureThrottle:
    """Answers 429 to a client that keeps failing security checks (CSRF, logins, tokens).

    Each process remembers which clients failed lately and asks the backend only about
    them, so a client with a clean record costs one dict lookup. With the Redis backend
    a process that has not yet seen a client fail lets one more request of that client
    through before it asks too. ``client`` keys a request's client (the app's
    :func:`per_client`); at most ``max_suspects`` clients are remembered.
    """

    __slots__ = ("_clock", "_max_suspects", "_suspects", "backend", "client", "rate")

    def __init__(self, backend: RateLimitBackend, rate: Rate, *,
                 client: ClientKey = _PER_CLIENT, clock: Callable[[], float] = time.monotonic,
                 max_suspects: int = 100_000) -> None:
        if (isinstance(max_suspects, bool) or not isinstance(max_suspects, int)
                or max_suspects < 1):
            raise SetupError(f"FailureThrottle(max_suspects={max_suspects!r}): use an int >= 1")
        self.backend = backend
        self.rate = rate
        self.client = client
        self._clock = clock
        self._max_suspects = max_suspects
        # client -> until when (clock) its failures may still count. Every entry lives one
        # period from its latest failure and is moved last then, so the order is the order
        # the entries end in.
        self._suspects: OrderedDict[str, float] = OrderedDict()

    @property
    def suspect_count(self) -> int:
        """How many clients are remembered as suspects (ended ones until the next failure)."""
        return len(self._suspects)

    def is_suspect(self, request: Request) -> bool:
        """Whether the client failed a check here within the last window."""
        until = self._suspects.get(self.client(request))
        return until is not None and until > self._clock()

    async def check(self, request: Request) -> None:
        """Raise 429 if the client has used up its failures."""
        result = await self.backend.peek(_failures_of(self.client(request)), self.rate)
        if not result.allowed:
            log_refusal("failure-throttled", request.scope, "too many security failures")
            raise TooManyRequests(
                "too many failed attempts from your address; try again in "
                f"{math.ceil(result.retry_after)} seconds", retry_after=result.retry_after,
            )

    async def record(self, request: Request, reason: str) -> None:
        """Count one security failure of the client (``reason`` goes to the log)."""
        client, now = self.client(request), self._clock()
        suspects = self._suspects
        suspects[client] = now + self.rate.period
        suspects.move_to_end(client)
        # PERF: the front holds the entries that end first: dropping the ended ones from
        # there costs O(1) per entry over its life, however many suspects there are.
        ended = 0
        for until in suspects.values():
            if until > now:
                break
            ended += 1
        # SECURITY: past the cap the soonest-ending suspects are forgotten: their count stays
        # in the backend, and their next failure makes them suspects again.
        for _ in range(max(ended, len(suspects) - self._max_suspects)):
            suspects.popitem(last=False)
        await self.backend.hit(_failures_of(client), self.rate)


def _failures_of(client: str) -> str:
    """The backend key counting the failures of ``client``."""
    return "failures|" + client


async def record_failure(request: Request, reason: str) -> None:
    """Count a security failure (a bad login, say) towards the client's failure limit."""
    log_refusal("security-failure", request.scope, reason)
    layer = request.app.security if request.app is not None else None
    if layer is not None and layer.throttle is not None:
        await layer.throttle.record(request, reason)
