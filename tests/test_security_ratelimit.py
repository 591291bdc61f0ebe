"""Rate limits wired into apps: ``@limit``, route and group ``limits=``, ``RATE_LIMITS``.

Every counting behaviour runs against both backends (memory, and Redis through
the ``redis_url`` fixture); requests go through the app in-process, with a
chosen peer address where the test needs one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from zephyr import Request, Zephyr
from zephyr.errors import SetupError, TooManyRequests
from zephyr.security import limit, record_failure
from zephyr.security.ratelimit import FailureThrottle, per_client
from zephyr.security.ratelimit_backends import MemoryRateLimitBackend, Rate
from zephyr.testing import ASGITransport, TestClient

MINUTE_RATE = "3/minute"
Sent = tuple[str, dict[str, str]]  # the peer address, the request headers


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings choosing a rate-limit backend (Redis on the emptied test database)."""
    if request.param == "memory":
        return {"rate_limit_backend": "memory"}
    return {"rate_limit_backend": "redis", "redis_url": request.getfixturevalue("redis_url")}


def statuses(client: TestClient, *paths: str, **options: Any) -> list[int]:
    return [client.get(path, **options).status_code for path in paths]


def limit_headers(response: httpx.Response) -> tuple[str | None, str | None]:
    return response.headers.get("RateLimit-Limit"), response.headers.get("RateLimit-Remaining")


# -- one limit on one route ----------------------------------------------------------------

def test_limit_answers_429_after_the_rate_with_headers(
    backend: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = Zephyr(__name__, **backend)
    calls: list[int] = []

    @app.get("/notes")
    @limit(MINUTE_RATE)
    async def notes() -> dict[str, int]:
        calls.append(1)
        return {"calls": len(calls)}

    with TestClient(app) as client:
        passed = [client.get("/notes") for _ in range(3)]
        with caplog.at_level(logging.WARNING, logger="zephyr.security"):
            refused = client.get("/notes")

    assert [r.status_code for r in passed] == [200, 200, 200]
    assert [r.json() for r in passed] == [{"calls": 1}, {"calls": 2}, {"calls": 3}]
    assert [limit_headers(r) for r in passed] == [("3", "2"), ("3", "1"), ("3", "0")]
    for response in passed:
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert limit_headers(refused) == ("3", "0")
    assert 1 <= int(refused.headers["RateLimit-Reset"]) <= 60
    problem = refused.json()
    assert problem.pop("instance").startswith("urn:zephyr:request:")
    assert problem == {
        "type": "about:blank", "title": "Too Many Requests", "status": 429,
        "detail": f"too many requests: the limit is 3 per 60 seconds; try again in "
                  f"{retry_after} seconds",
    }
    assert len(calls) == 3
    events = [(getattr(r, "security_event", None), getattr(r, "path", None))
              for r in caplog.records if hasattr(r, "security_event")]
    assert events == [("rate-limited", "/notes")]


def test_unlimited_routes_carry_no_rate_limit_headers(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, **backend)

    @app.get("/limited")
    @limit(MINUTE_RATE)
    async def limited() -> str:
        return "limited"

    @app.get("/free")
    async def free() -> str:
        return "free"

    with TestClient(app) as client:
        free_answers = [client.get("/free") for _ in range(5)]
        assert statuses(client, "/limited", "/limited", "/limited", "/limited") == [
            200, 200, 200, 429]

    assert [r.status_code for r in free_answers] == [200] * 5
    assert all(limit_headers(r) == (None, None) for r in free_answers)


def test_a_short_window_reopens_and_retry_after_is_at_least_one_second(
    backend: dict[str, Any],
) -> None:
    app = Zephyr(__name__, **backend)

    @app.get("/burst")
    @limit("1/0.5s")
    async def burst() -> str:
        return "ok"

    with TestClient(app) as client:
        first, refused = client.get("/burst"), client.get("/burst")
        time.sleep(0.6)
        reopened = client.get("/burst")

    assert first.status_code == 200
    assert first.headers["RateLimit-Reset"] == "1"
    assert refused.status_code == 429
    # NOTE: RFC 9110 §10.2.3: Retry-After is whole seconds, so half a second rounds up.
    assert refused.headers["Retry-After"] == "1"
    assert reopened.status_code == 200
    assert limit_headers(reopened) == ("1", "0")


# -- who is counted together -----------------------------------------------------------------

def _api_key(request: Request) -> str:
    return str(request.headers.get("x-api-key", "anonymous"))


async def _async_api_key(request: Request) -> str:
    await asyncio.sleep(0)
    return str(request.headers.get("x-api-key", "anonymous"))


@pytest.mark.parametrize("key", [_api_key, _async_api_key], ids=["sync", "async"])
def test_key_function_counts_each_api_key_apart(
    backend: dict[str, Any], key: Callable[[Request], Any]
) -> None:
    app = Zephyr(__name__, **backend)

    @app.get("/search")
    @limit("2/minute", key=key)
    async def search() -> str:
        return "results"

    with TestClient(app) as client:
        alice = statuses(client, "/search", "/search", "/search", headers={"X-API-Key": "alice"})
        bob = statuses(client, "/search", "/search", "/search", headers={"X-API-Key": "bob"})
        nobody = statuses(client, "/search", "/search", "/search")

    assert alice == [200, 200, 429]
    assert bob == [200, 200, 429]
    assert nobody == [200, 200, 429]


def ping_app(**settings: Any) -> Zephyr:
    """``GET /ping`` limited to 2 a minute, answering with the client address it saw."""
    app = Zephyr(__name__, **settings)

    @app.get("/ping")
    @limit("2/minute")
    async def ping(request: Request) -> str:
        return request.client.host if request.client else "none"

    return app


def send_from(app: Zephyr, requests: list[Sent], method: str = "GET",
              path: str = "/ping") -> list[tuple[int, str | None]]:
    """``GET /ping`` (or ``method path``) from each peer address with its headers:
    (status, the body of a success) each."""

    async def scenario() -> list[tuple[int, str | None]]:
        answers: list[tuple[int, str | None]] = []
        await app.startup()
        try:
            for host, headers in requests:
                transport = ASGITransport(app, client=(host, 1234))
                async with httpx.AsyncClient(transport=transport,
                                             base_url="http://localhost") as client:
                    response = await client.request(method, path, headers=headers)
                    answers.append((response.status_code,
                                    response.text if response.is_success else None))
        finally:
            await app.shutdown()
        return answers

    return asyncio.run(scenario())


def test_each_client_address_is_counted_apart(backend: dict[str, Any]) -> None:
    one: Sent = ("10.0.0.1", {})
    two: Sent = ("10.0.0.2", {})

    answers = send_from(ping_app(**backend), [one, one, two, one, two, two])

    assert answers == [(200, "10.0.0.1"), (200, "10.0.0.1"), (200, "10.0.0.2"), (429, None),
                       (200, "10.0.0.2"), (429, None)]


# A host given an IPv6 /64 may use any of its 2^64 addresses: each bit of the interface id.
ROTATING = [str(ipaddress.IPv6Address(0x20010DB8_00000001 << 64 | 1 << bit)) for bit in range(64)]


def test_addresses_inside_one_ipv6_network_share_one_counter(backend: dict[str, Any]) -> None:
    answers = send_from(ping_app(**backend), [(host, {}) for host in ROTATING])

    assert [status for status, _ in answers] == [200, 200] + [429] * (len(ROTATING) - 2)


def test_each_ipv6_network_is_counted_apart(backend: dict[str, Any]) -> None:
    hosts = ["2001:db8:0:1::1", "2001:db8:0:2::1", "2001:db8:0:1::2", "2001:db8:0:2::2",
             "2001:db8:0:1::3", "2001:db8:0:2::3", "2001:db8:0:3::1"]

    answers = send_from(ping_app(**backend), [(host, {}) for host in hosts])

    assert [status for status, _ in answers] == [200, 200, 200, 200, 429, 429, 200]


def test_the_ipv6_prefix_setting_widens_the_network(backend: dict[str, Any]) -> None:
    # /56: 2001:db8:0:100:: to 2001:db8:0:1ff:ffff:... is one client.
    hosts = ["2001:db8:0:100::1", "2001:db8:0:1ff::1", "2001:db8:0:200::1",
             "2001:db8:0:1a0:1:2:3:4"]

    answers = send_from(ping_app(rate_limit_ipv6_prefix=56, **backend),
                        [(host, {}) for host in hosts])

    assert [status for status, _ in answers] == [200, 200, 200, 429]


def test_an_ipv4_mapped_address_counts_as_the_ipv4_address(backend: dict[str, Any]) -> None:
    hosts = ["::ffff:192.0.2.1", "192.0.2.1", "::ffff:c000:201", "192.0.2.2"]

    answers = send_from(ping_app(**backend), [(host, {}) for host in hosts])

    assert [status for status, _ in answers] == [200, 200, 429, 200]


def test_rate_limits_prefixes_count_ipv6_clients_by_network(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, rate_limits={"/ping": "2/minute"}, **backend)
    app.add_route("/ping", lambda: "pong")

    answers = send_from(app, [(host, {}) for host in ROTATING[::8]])

    assert [status for status, _ in answers] == [200, 200, 429, 429, 429, 429, 429, 429]


def test_rotating_inside_one_ipv6_network_does_not_evade_the_failure_throttle(
    backend: dict[str, Any],
) -> None:
    app = Zephyr(__name__, failure_limit="3/minute", **backend)

    @app.post("/unlock", csrf=False)
    async def unlock(request: Request) -> tuple[str, int]:
        await record_failure(request, "wrong-pin")
        return "wrong PIN", 400

    answers = send_from(app, [(host, {}) for host in ROTATING[:6]], "POST", "/unlock")

    assert [status for status, _ in answers] == [400, 400, 400, 429, 429, 429]


def test_a_limit_used_outside_a_route_counts_ipv6_clients_by_network_too() -> None:
    unbound = limit("1/minute")
    backend = MemoryRateLimitBackend()

    async def scenario() -> int:
        await unbound.hit(backend, suspect_request("2001:db8:0:1::1"))
        with pytest.raises(TooManyRequests) as caught:
            await unbound.hit(backend, suspect_request("2001:db8:0:1::2"))
        return caught.value.status_code

    assert asyncio.run(scenario()) == 429


@pytest.mark.parametrize(("prefix", "host", "key"), [
    (64, "203.0.113.7", "203.0.113.7"),
    (64, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    (64, "2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    (64, "2001:db8::1", "2001:db8::/64"),
    (64, "fe80::1%eth0", "fe80::/64"),
    (56, "2001:db8:1:2ff::1", "2001:db8:1:200::/56"),
    (48, "2001:db8:1:2ff::1", "2001:db8:1::/48"),
    (128, "2001:db8::1", "2001:db8::1/128"),
    (1, "2001:db8::1", "::/1"),
    (64, "::ffff:192.0.2.1", "192.0.2.1"),
    (64, "::FFFF:c000:0201", "192.0.2.1"),
    (64, "::1", "::/64"),
    (64, "testclient", "testclient"),
    (64, "not:an:address", "not:an:address"),
    (64, "2001:db8::1::2", "2001:db8::1::2"),
    (64, "2001:db8::g", "2001:db8::g"),
    (64, ":", ":"),
    (64, "", ""),
    (64, None, "unknown"),
], ids=lambda value: repr(value))
def test_the_client_key_of_each_kind_of_address(prefix: int, host: str | None,
                                                key: str) -> None:
    scope = {"type": "http", "client": None if host is None else (host, 1234)}

    assert per_client(prefix)(Request(scope, _no_body)) == key


@pytest.mark.parametrize("prefix", [0, 129, -64, True, 64.0, "64"])
def test_an_ipv6_prefix_that_is_no_prefix_length_stops_startup(prefix: Any) -> None:
    with pytest.raises(SetupError) as caught:
        per_client(prefix)
    assert str(caught.value) == (
        f"RATE_LIMIT_IPV6_PREFIX must be a prefix length from 1 to 128 (64 counts each IPv6 "
        f"/64 network as one client); got {prefix!r}")


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_forwarding_headers_from_an_untrusted_peer_do_not_evade_the_limit(
    backend: dict[str, Any],
) -> None:
    spoofed = [("10.0.0.1", {"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(2)]
    spoofed.append(("10.0.0.1", {"Forwarded": "for=198.51.100.9"}))

    answers = send_from(ping_app(**backend), spoofed)

    assert answers == [(200, "10.0.0.1"), (200, "10.0.0.1"), (429, None)]


def test_behind_a_trusted_proxy_the_client_cannot_prepend_addresses(
    backend: dict[str, Any],
) -> None:
    # The proxy appends the address it saw to whatever X-Forwarded-For the client sent.
    sent = [("127.0.0.1", {"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.5"})
            for n in range(3)]

    answers = send_from(ping_app(trusted_proxies=["127.0.0.1"], **backend), sent)

    assert answers == [(200, "203.0.113.5"), (200, "203.0.113.5"), (429, None)]


def test_behind_a_trusted_proxy_a_forwarded_header_of_the_client_does_not_evade_the_limit(
    backend: dict[str, Any],
) -> None:
    # The proxy sets X-Forwarded-For (first, as nginx does) and passes the client's own
    # headers on after it, among them a Forwarded header with a new address each time.
    sent = [("127.0.0.1", {"X-Forwarded-For": "203.0.113.5",
                           "Forwarded": f"for=198.51.100.{n}"}) for n in range(3)]

    answers = send_from(ping_app(trusted_proxies=["127.0.0.1"], **backend), sent)

    assert [status for status, _ in answers] == [200, 200, 429]


# -- the failure throttle's table of suspects ------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def suspects_after(records: list[tuple[float, str]], *, max_suspects: int = 100,
                   ) -> tuple[list[int], dict[str, bool]]:
    """Record each (seconds from the start, client) failure in a throttle with a 10 s window:
    the table's size after each, and which clients are still suspects at the end."""
    clock = Clock()
    throttle = FailureThrottle(MemoryRateLimitBackend(clock=clock), Rate(5, 10),
                               clock=clock, max_suspects=max_suspects)
    hosts = sorted({host for _, host in records})

    async def scenario() -> list[int]:
        sizes = []
        for at, host in records:
            clock.now = 1000.0 + at
            await throttle.record(suspect_request(host), "test")
            sizes.append(throttle.suspect_count)
        return sizes

    sizes = asyncio.run(scenario())
    return sizes, {host: throttle.is_suspect(suspect_request(host)) for host in hosts}


def suspect_request(host: str) -> Request:
    return Request({"type": "http", "client": (host, 1234)}, _no_body)


def test_the_suspect_table_never_holds_more_than_its_cap_and_forgets_the_oldest() -> None:
    hosts = [f"10.0.0.{n}" for n in range(1, 8)]

    sizes, suspects = suspects_after([(0.1 * n, host) for n, host in enumerate(hosts)],
                                     max_suspects=3)

    assert sizes == [1, 2, 3, 3, 3, 3, 3]
    assert suspects == {host: host in hosts[-3:] for host in hosts}


def test_the_suspect_table_drops_ended_entries_in_the_order_they_end() -> None:
    # Each entry lives 10 s from its client's latest failure; a new failure moves it last.
    records = [(0, "a"), (3, "b"), (6, "c"), (7, "a"), (13.5, "d"), (16.5, "e"), (17.5, "f")]

    sizes, suspects = suspects_after(records)

    # At 13.5 b (ended at 13) goes; at 16.5 c (16); at 17.5 a (refreshed at 7: 17).
    assert sizes == [1, 2, 3, 3, 3, 3, 3]
    assert suspects == {"a": False, "b": False, "c": False, "d": True, "e": True, "f": True}


@pytest.mark.parametrize("value", [0, -5, True])
def test_the_suspect_table_refuses_a_cap_below_one(value: Any) -> None:
    with pytest.raises(SetupError) as caught:
        FailureThrottle(MemoryRateLimitBackend(), Rate(5, 10), max_suspects=value)
    assert str(caught.value) == f"FailureThrottle(max_suspects={value!r}): use an int >= 1"


def test_two_routes_with_the_same_limit_count_apart(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, **backend)

    @app.get("/a")
    @limit("2/minute")
    async def a() -> str:
        return "a"

    @app.get("/b")
    @limit("2/minute")
    async def b() -> str:
        return "b"

    with TestClient(app) as client:
        assert statuses(client, "/a", "/a", "/b", "/a", "/b", "/b") == [
            200, 200, 200, 429, 200, 429]


def test_route_option_limits_count_like_the_decorator(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, **backend)

    @app.post("/upload", limits=[limit("2/minute")])
    async def upload() -> str:
        return "stored"

    with TestClient(app) as client:
        answers = [client.post("/upload") for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert [limit_headers(r) for r in answers] == [("2", "1"), ("2", "0"), ("2", "0")]


def test_group_limit_counts_all_its_routes_together(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, **backend)
    api = app.group("/api", limits=[limit("3/minute")])

    @api.get("/a")
    async def a() -> str:
        return "a"

    @api.post("/b", csrf=False)
    async def b() -> str:
        return "b"

    @app.get("/outside")
    async def outside() -> str:
        return "outside"

    with TestClient(app) as client:
        answers = [client.get("/api/a"), client.post("/api/b"), client.get("/api/a"),
                   client.post("/api/b"), client.get("/api/a")]
        assert statuses(client, "/outside", "/outside", "/outside", "/outside") == [200] * 4

    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [limit_headers(r) for r in answers[:3]] == [("3", "2"), ("3", "1"), ("3", "0")]


def test_nested_groups_with_the_same_prefix_count_apart(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, **backend)
    v1 = app.group("/v1").group("/api", limits=[limit("2/minute")])
    v2 = app.group("/v2").group("/api", limits=[limit("2/minute")])

    @v1.get("/items", name="v1_items")
    async def v1_items() -> str:
        return "v1"

    @v2.get("/items", name="v2_items")
    async def v2_items() -> str:
        return "v2"

    with TestClient(app) as client:
        assert statuses(client, "/v1/api/items", "/v1/api/items", "/v1/api/items") == [
            200, 200, 429]
        assert statuses(client, "/v2/api/items", "/v2/api/items", "/v2/api/items") == [
            200, 200, 429]


def test_route_and_group_limits_both_apply_and_the_tighter_one_is_reported(
    backend: dict[str, Any],
) -> None:
    app = Zephyr(__name__, **backend)
    api = app.group("/api", limits=[limit("5/minute")])

    @api.get("/strict")
    @limit("2/minute")
    async def strict() -> str:
        return "strict"

    @api.get("/loose")
    async def loose() -> str:
        return "loose"

    with TestClient(app) as client:
        strict_answers = [client.get("/api/strict") for _ in range(3)]
        loose_answers = [client.get("/api/loose") for _ in range(3)]

    assert [r.status_code for r in strict_answers] == [200, 200, 429]
    # The route's 2/minute runs out first: its headers win over the group's 5/minute.
    assert [limit_headers(r) for r in strict_answers] == [("2", "1"), ("2", "0"), ("2", "0")]
    # The group counted all three /strict requests (the refused one too): two are left.
    assert [r.status_code for r in loose_answers] == [200, 200, 429]
    assert [limit_headers(r) for r in loose_answers] == [("5", "1"), ("5", "0"), ("5", "0")]


def test_a_tighter_group_limit_wins_the_headers_over_the_route(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, **backend)
    api = app.group("/api", limits=[limit("2/minute")])

    @api.get("/x")
    @limit("10/minute")
    async def x() -> str:
        return "x"

    with TestClient(app) as client:
        answers = [client.get("/api/x") for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert [limit_headers(r) for r in answers] == [("2", "1"), ("2", "0"), ("2", "0")]


def test_rate_limits_setting_covers_a_path_prefix(backend: dict[str, Any]) -> None:
    app = Zephyr(__name__, rate_limits={"/api": "2/minute"}, **backend)
    for path in ("/api", "/api/a", "/api/b/c", "/apix", "/"):
        app.add_route(path, lambda: "ok", name=path)

    with TestClient(app) as client:
        under = [client.get(path) for path in ("/api", "/api/a", "/api/b/c", "/api/a")]
        outside = statuses(client, *["/apix", "/"] * 4)
        unlimited = client.get("/apix")

    assert [r.status_code for r in under] == [200, 200, 429, 429]
    assert [limit_headers(r) for r in under] == [("2", "1"), ("2", "0"), ("2", "0"),
                                                 ("2", "0")]
    assert outside == [200] * 8
    assert limit_headers(unlimited) == (None, None)


def test_counters_are_shared_between_apps_only_through_redis(backend: dict[str, Any]) -> None:
    def make_app() -> Zephyr:
        app = Zephyr(__name__, **backend)

        @app.get("/shared")
        @limit("2/minute")
        async def shared() -> str:
            return "ok"

        return app

    with TestClient(make_app()) as first, TestClient(make_app()) as second:
        answers = statuses(first, "/shared") + statuses(second, "/shared", "/shared")

    # Two apps are two worker processes: Redis counts them as one; memory counts each alone.
    expected = [200, 200, 429] if backend["rate_limit_backend"] == "redis" else [200, 200, 200]
    assert answers == expected


# -- mistakes refused at setup ---------------------------------------------------------------

FORMS = ("'10/minute', '10/min', '5/second', '5/s', '100/hour', '1000/day', '10/5minutes', "
         "'10/30s' or '10 per minute'")


@pytest.mark.parametrize(("rate", "message"), [
    ("ten/minute", f"'ten/minute' is not a rate; write a count per period: {FORMS}"),
    ("10/fortnight", f"'10/fortnight' is not a rate; write a count per period: {FORMS}"),
    ("10", f"'10' is not a rate; write a count per period: {FORMS}"),
    ("", f"'' is not a rate; write a count per period: {FORMS}"),
    ("-1/minute", f"'-1/minute' is not a rate; write a count per period: {FORMS}"),
    ("0/minute", "rate '0/minute': a rate's limit must be a whole number of requests, "
                 "at least 1; got 0"),
    ("10/0s", "rate '10/0s': a rate's period must be a number of seconds, at least 0.001; "
              "got 0.0"),
])
def test_bad_rate_strings_are_refused_at_registration(rate: str, message: str) -> None:
    with pytest.raises(SetupError) as caught:
        limit(rate)
    assert str(caught.value) == message


def test_a_key_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(SetupError) as caught:
        limit("5/minute", key="notcallable")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "limit('5/minute', key=...) needs a function of the request, not 'notcallable'")


def test_a_bad_rate_in_the_rate_limits_setting_stops_startup() -> None:
    app = Zephyr(__name__, rate_limits={"/api": "lots"})
    app.add_route("/api", lambda: "ok")

    with pytest.raises(RuntimeError) as caught, TestClient(app):
        pass
    assert str(caught.value) == (
        f"application startup failed: SetupError: 'lots' is not a rate; write a count per "
        f"period: {FORMS}")


def test_the_failure_throttle_across_processes_lets_one_request_through_per_new_process(
        redis_url: str) -> None:
    # Two apps stand for two worker processes sharing Redis. Each process asks Redis only
    # about clients it has seen fail, so the second one lets one more failure through.
    def failing_app() -> Zephyr:
        app = Zephyr(rate_limit_backend="redis", redis_url=redis_url,
                     failure_limit="2/minute")

        @app.post("/login", csrf=False)
        async def login(request: Request) -> tuple[str, int]:
            await record_failure(request, "bad-login")
            return "wrong password", 401

        return app

    with TestClient(failing_app()) as first, TestClient(failing_app()) as second:
        assert [first.post("/login").status_code for _ in range(3)] == [401, 401, 429]
        assert [second.post("/login").status_code for _ in range(2)] == [401, 429]
