"""Rate parsing and the rate-limit backends: one behaviour table run on memory and on Redis."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from zephyr.errors import SetupError
from zephyr.security.ratelimit_backends import (
    MemoryRateLimitBackend,
    Rate,
    RateLimitBackend,
    RateLimitBackendError,
    RateLimitResult,
    RedisRateLimitBackend,
)

# -- Rate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("10/minute", Rate(10, 60), "10/60s"),
        ("10/min", Rate(10, 60), "10/60s"),
        ("5/second", Rate(5, 1), "5/1s"),
        ("5/s", Rate(5, 1), "5/1s"),
        ("100/hour", Rate(100, 3600), "100/3600s"),
        ("1000/day", Rate(1000, 86400), "1000/86400s"),
        ("10/5minutes", Rate(10, 300), "10/300s"),
        ("10/30s", Rate(10, 30), "10/30s"),
        ("10 per minute", Rate(10, 60), "10/60s"),
        (" 3 / 2 Hours ", Rate(3, 7200), "3/7200s"),
        ("10/60s", Rate(10, 60), "10/60s"),
        ("4/0.5s", Rate(4, 0.5), "4/0.5s"),
    ],
)
def test_rate_parse_accepts_the_documented_forms(text: str, expected: Rate, canonical: str) -> None:
    rate = Rate.parse(text)
    assert rate == expected
    assert str(rate) == canonical
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize(
    "text",
    ["", "10", "/minute", "minute", "10/", "10/fortnight", "10/month", "-1/s", "1.5/s", "1e3/s",
     "10/m/s", "10per minute", "10 per", "ten/minute", "10/minute!"],
)
def test_rate_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(SetupError, match="is not a rate; write a count per period"):
        Rate.parse(text)


def test_rate_parse_message_names_the_text_and_lists_the_forms() -> None:
    with pytest.raises(SetupError) as caught:
        Rate.parse("10/fortnight")
    assert str(caught.value) == (
        "'10/fortnight' is not a rate; write a count per period: '10/minute', '10/min', "
        "'5/second', '5/s', '100/hour', '1000/day', '10/5minutes', '10/30s' or '10 per minute'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/minute", "rate '0/minute': a rate's limit must be a whole number of requests, "
                     "at least 1; got 0"),
        ("10/0s", "rate '10/0s': a rate's period must be a number of seconds, at least 0.001; "
                  "got 0.0"),
    ],
)
def test_rate_parse_refuses_empty_limits_and_periods(text: str, message: str) -> None:
    with pytest.raises(SetupError) as caught:
        Rate.parse(text)
    assert str(caught.value) == message


_LIMIT = "a rate's limit must be a whole number of requests, at least 1; got "
_PERIOD = "a rate's period must be a number of seconds, at least 0.001; got "


@pytest.mark.parametrize(
    ("limit", "period", "message"),
    [
        (0, 60, _LIMIT + "0"),
        (-1, 60, _LIMIT + "-1"),
        (True, 60, _LIMIT + "True"),
        (1.5, 60, _LIMIT + "1.5"),
        ("10", 60, _LIMIT + "'10'"),
        (1, 0, _PERIOD + "0"),
        (1, -1, _PERIOD + "-1"),
        (1, float("inf"), _PERIOD + "inf"),
        (1, float("nan"), _PERIOD + "nan"),
        (1, 0.0001, _PERIOD + "0.0001"),
        (1, "60", _PERIOD + "'60'"),
    ],
)
def test_rate_refuses_bad_values_when_built_directly(
    limit: object, period: object, message: str
) -> None:
    with pytest.raises(SetupError) as caught:
        Rate(limit, period)  # type: ignore[arg-type]
    assert str(caught.value) == message


# -- the behaviour table, on every backend ------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A backend factory plus a way to let time pass: moved on a fake clock, or slept."""

    make: Callable[[], RateLimitBackend]
    advance: Callable[[float], Awaitable[None]]
    tolerance: float  # Redis counts real milliseconds

    def run(self, scenario: Callable[[RateLimitBackend], Awaitable[None]]) -> None:
        async def main() -> None:
            backend = self.make()
            try:
                await scenario(backend)
            finally:
                await backend.close()

        asyncio.run(main())

    def expect(self, result: RateLimitResult, allowed: bool, remaining: int, reset_after: float,
               limit: int) -> None:
        assert (result.allowed, result.limit, result.remaining) == (allowed, limit, remaining)
        assert result.reset_after == pytest.approx(reset_after, abs=self.tolerance)
        retry_after = 0.0 if allowed else reset_after
        assert result.retry_after == pytest.approx(retry_after, abs=self.tolerance)
        if allowed:
            assert result.retry_after == 0.0


def _memory_harness() -> Harness:
    clock = FakeClock()

    async def advance(seconds: float) -> None:
        clock.now += seconds

    return Harness(lambda: MemoryRateLimitBackend(clock=clock), advance, 1e-9)


@pytest.fixture(params=["memory", "redis"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        return _memory_harness()
    url = request.getfixturevalue("redis_url")
    return Harness(lambda: RedisRateLimitBackend(url), asyncio.sleep, 0.1)


P = 0.6  # the period of the table's rates: short, because Redis runs on real time
EPSILON = 0.05  # Redis ends a window once its last millisecond has passed


def test_hits_are_allowed_up_to_the_limit_then_denied(harness: Harness) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        results = [await backend.hit("client", Rate(3, P)) for _ in range(5)]
        for result, (allowed, remaining) in zip(
            results, [(True, 2), (True, 1), (True, 0), (False, 0), (False, 0)], strict=True
        ):
            harness.expect(result, allowed, remaining, P, limit=3)

    harness.run(scenario)


def test_the_window_ends_one_period_after_the_first_hit(harness: Harness) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        rate = Rate(2, P)
        harness.expect(await backend.hit("client", rate), True, 1, P, limit=2)
        await harness.advance(P / 2)
        harness.expect(await backend.hit("client", rate), True, 0, P / 2, limit=2)
        harness.expect(await backend.hit("client", rate), False, 0, P / 2, limit=2)
        await harness.advance(P / 2 + EPSILON)
        harness.expect(await backend.hit("client", rate), True, 1, P, limit=2)

    harness.run(scenario)


def test_denied_hits_count_and_never_extend_the_window(harness: Harness) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        rate = Rate(5, P)
        harness.expect(await backend.hit("client", rate, cost=4), True, 1, P, limit=5)
        harness.expect(await backend.hit("client", rate, cost=4), False, 0, P, limit=5)
        # 4 + 1 would fit; it is refused because the denied 4 were counted (9 > 5).
        harness.expect(await backend.hit("client", rate), False, 0, P, limit=5)
        await harness.advance(P / 2)
        harness.expect(await backend.hit("client", rate), False, 0, P / 2, limit=5)
        await harness.advance(P / 2 + EPSILON)
        harness.expect(await backend.hit("client", rate), True, 4, P, limit=5)

    harness.run(scenario)


def test_peek_neither_counts_nor_opens_a_window(harness: Harness) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        rate = Rate(2, P)
        harness.expect(await backend.peek("client", rate), True, 2, P, limit=2)
        await harness.advance(P / 2)
        harness.expect(await backend.hit("client", rate), True, 1, P, limit=2)
        for _ in range(3):
            harness.expect(await backend.peek("client", rate), True, 1, P, limit=2)
        harness.expect(await backend.hit("client", rate), True, 0, P, limit=2)
        harness.expect(await backend.peek("client", rate), False, 0, P, limit=2)

    harness.run(scenario)


def test_reset_forgets_every_rate_of_one_key_only(harness: Harness) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        short, long = Rate(1, P), Rate(1, 2 * P)
        for key in ("alice", "bob"):
            for rate in (short, long):
                await backend.hit(key, rate)
        await backend.reset("alice")
        await backend.reset("nobody")
        harness.expect(await backend.peek("alice", short), True, 1, P, limit=1)
        harness.expect(await backend.peek("alice", long), True, 1, 2 * P, limit=1)
        harness.expect(await backend.peek("bob", short), False, 0, P, limit=1)
        harness.expect(await backend.peek("bob", long), False, 0, 2 * P, limit=1)
        harness.expect(await backend.hit("alice", short), True, 0, P, limit=1)

    harness.run(scenario)


def test_rates_on_one_key_count_separately(harness: Harness) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        for rate, remaining in [(Rate(1, P), 0), (Rate(2, P), 1), (Rate(1, 2 * P), 0)]:
            harness.expect(await backend.hit("client", rate), True, remaining, rate.period,
                           limit=rate.limit)

    harness.run(scenario)


@pytest.mark.parametrize("cost", [0, -1, True, 1.0])
def test_a_cost_below_one_is_refused(harness: Harness, cost: object) -> None:
    async def scenario(backend: RateLimitBackend) -> None:
        with pytest.raises(SetupError) as caught:
            await backend.hit("client", Rate(1, P), cost=cost)  # type: ignore[arg-type]
        assert str(caught.value) == (
            f"a rate-limited request costs a whole number, at least 1; got {cost!r}"
        )
        harness.expect(await backend.peek("client", Rate(1, P)), True, 1, P, limit=1)

    harness.run(scenario)


# -- memory: exact clock arithmetic and bounded size ----------------------------------------


def test_memory_window_boundaries_are_exact() -> None:
    clock = FakeClock()
    backend = MemoryRateLimitBackend(clock=clock)
    rate = Rate(1, 60)

    async def scenario() -> list[RateLimitResult]:
        results = [await backend.hit("k", rate)]
        clock.now = 1030.0
        results.append(await backend.hit("k", rate))
        clock.now = 1060.0  # the window was [1000, 1060): a new one opens
        results.append(await backend.hit("k", rate))
        results.append(await backend.peek("k", rate))
        return results

    assert asyncio.run(scenario()) == [
        RateLimitResult(allowed=True, limit=1, remaining=0, reset_after=60.0, retry_after=0.0),
        RateLimitResult(allowed=False, limit=1, remaining=0, reset_after=30.0, retry_after=30.0),
        RateLimitResult(allowed=True, limit=1, remaining=0, reset_after=60.0, retry_after=0.0),
        RateLimitResult(allowed=False, limit=1, remaining=0, reset_after=60.0, retry_after=60.0),
    ]


def test_memory_drops_the_ended_windows_of_a_rate_when_it_is_next_hit() -> None:
    clock = FakeClock()
    backend = MemoryRateLimitBackend(clock=clock)
    short, long = Rate(1, 10), Rate(1, 100)

    async def scenario() -> list[int]:
        sizes = []
        for key, rate in [("a", short), ("b", short), ("c", long), ("both", short),
                          ("both", long)]:
            await backend.hit(key, rate)
            sizes.append(len(backend))
        clock.now += 10
        await backend.hit("d", short)  # a, b and both's short window have ended: dropped
        sizes.append(len(backend))
        return sizes

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 4, 3]  # c, both (long) and d


def full_table(clock: FakeClock) -> tuple[MemoryRateLimitBackend, Rate]:
    """A memory backend of 3 keys, full of live 60 s windows opened at 1000, 1010 and 1020
    (now): the login window of 203.0.113.5 has used up its 2 requests."""
    backend = MemoryRateLimitBackend(clock=clock, max_keys=3)
    rate = Rate(2, 60)

    async def fill() -> None:
        for now, key in [(1000, "login|203.0.113.5"), (1000, "login|203.0.113.5"),
                         (1010, "b"), (1020, "c")]:
            clock.now = now
            await backend.hit(key, rate)

    asyncio.run(fill())
    return backend, rate


def test_memory_full_of_live_windows_refuses_new_keys_and_keeps_every_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    backend, rate = full_table(clock)

    async def scenario() -> tuple[list[RateLimitResult], RateLimitResult, RateLimitResult,
                                  RateLimitResult]:
        flood = [await backend.hit(f"made-up-{n}", rate) for n in range(1000)]
        return (flood, await backend.peek("made-up-1000", rate),
                await backend.hit("login|203.0.113.5", rate), await backend.peek("b", rate))

    with caplog.at_level(logging.WARNING, logger="zephyr.security"):
        flood, new_key, login, b = asyncio.run(scenario())

    # The flood is refused until the oldest window ends, at 1060: 40 s from now.
    refused = RateLimitResult(allowed=False, limit=2, remaining=0, reset_after=40.0,
                              retry_after=40.0)
    assert set(flood) == {refused}
    assert new_key == refused  # a hit would be refused, and peek says so
    # The login window was not forgotten: still used up, not a fresh one.
    assert (login.allowed, login.remaining, login.retry_after) == (False, 0, 40.0)
    assert (b.allowed, b.remaining) == (True, 1)
    assert len(backend) == 3
    assert [record.getMessage() for record in caplog.records] == [
        "the memory rate-limit backend holds max_keys=3 keys whose windows have not ended, "
        "so requests counted under a new key get 429 until one ends; raise max_keys, or "
        "set RATE_LIMIT_BACKEND=redis"]


def test_memory_admits_new_keys_again_as_windows_end(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    backend, rate = full_table(clock)

    async def scenario() -> list[tuple[str, bool]]:
        answers = []
        for now, key in [(1020, "d"), (1060, "d"), (1060, "e"), (1069, "e"), (1070, "e"),
                         (1070, "login|203.0.113.5")]:
            clock.now = now
            answers.append((key, (await backend.hit(key, rate)).allowed))
        return answers

    with caplog.at_level(logging.WARNING, logger="zephyr.security"):
        answers = asyncio.run(scenario())

    # At 1060 the login window ends (d takes its place), at 1070 b's (e takes it): the
    # login key is then new, and the table is full again.
    assert answers == [("d", False), ("d", True), ("e", False), ("e", False), ("e", True),
                       ("login|203.0.113.5", False)]
    assert len(backend) == 3
    # One warning each time the table fills up, not one per refused request.
    assert len(caplog.records) == 3


def test_memory_drops_ended_windows_before_forgetting_live_ones() -> None:
    clock = FakeClock()
    backend = MemoryRateLimitBackend(clock=clock, max_keys=3)

    async def scenario() -> list[bool]:
        await backend.hit("a", Rate(1, 10))
        await backend.hit("b", Rate(1, 100))
        await backend.hit("c", Rate(1, 100))
        clock.now += 10
        await backend.hit("d", Rate(1, 100))
        return [(await backend.peek(key, Rate(1, 100))).allowed for key in ("b", "c", "d")]

    assert asyncio.run(scenario()) == [False, False, False]
    assert len(backend) == 3


@pytest.mark.parametrize("value", [0, -5, True])
def test_memory_refuses_bad_sizes(value: object) -> None:
    with pytest.raises(SetupError) as caught:
        MemoryRateLimitBackend(max_keys=value)  # type: ignore[arg-type]
    assert str(caught.value) == f"MemoryRateLimitBackend(max_keys={value!r}): use an int >= 1"


# -- Redis: key layout, ownership, failures, atomicity across processes ---------------------


def test_redis_keys_hold_the_rate_and_expire_with_the_window(redis_url: str) -> None:
    import redis

    async def scenario() -> None:
        backend = RedisRateLimitBackend(redis_url, prefix="app:")
        try:
            await backend.hit("user:1", Rate(5, 60))
            await backend.hit("user:1", Rate(5, 1))
        finally:
            await backend.close()

    asyncio.run(scenario())
    with redis.Redis.from_url(redis_url) as client:
        assert sorted(client.keys()) == [b"app:5/1000ms:user:1", b"app:5/60000ms:user:1",
                                         b"app:rates:user:1"]
        assert client.get("app:5/60000ms:user:1") == b"1"
        assert 59_000 < client.pttl("app:5/60000ms:user:1") <= 60_000
        assert 59_000 < client.pttl("app:rates:user:1") <= 60_000


def test_redis_leaves_a_client_it_was_given_open(redis_url: str) -> None:
    import redis.asyncio

    async def scenario() -> bool:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            backend = RedisRateLimitBackend("redis://elsewhere:6379/0", client=client)
            await backend.hit("k", Rate(1, 60))
            await backend.close()
            return bool(await client.exists("zephyr:ratelimit:1/60000ms:k"))
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) is True


_OPERATIONS: dict[str, Callable[[RateLimitBackend], Awaitable[object]]] = {
    "hit": lambda backend: backend.hit("k", Rate(1, 60)),
    "peek": lambda backend: backend.peek("k", Rate(1, 60)),
    "reset": lambda backend: backend.reset("k"),
}


@pytest.mark.parametrize("operation", sorted(_OPERATIONS))
def test_unreachable_redis_says_where_and_how_to_fix_it(operation: str) -> None:
    async def scenario() -> None:
        backend = RedisRateLimitBackend("redis://admin:hunter2@127.0.0.1:1/0")
        try:
            await _OPERATIONS[operation](backend)
        finally:
            await backend.close()

    with pytest.raises(RateLimitBackendError) as caught:
        asyncio.run(scenario())
    message = str(caught.value)
    assert message.startswith(
        "Redis at 'redis://admin:***@127.0.0.1:1/0' is unreachable: start Redis there, correct "
        "the URL, or set RATE_LIMIT_BACKEND=memory to count in this process only ("
    )
    assert "hunter2" not in message


def test_a_url_that_is_not_redis_is_refused_without_its_password() -> None:
    with pytest.raises(SetupError) as caught:
        RedisRateLimitBackend("http://admin:hunter2@cache:6379/0")
    assert str(caught.value) == (
        "'http://admin:***@cache:6379/0' is not a Redis URL: Redis URL must specify one of the "
        "following schemes (redis://, rediss://, unix://)"
    )


_WORKER = """
import asyncio, sys
from zephyr.security.ratelimit_backends import Rate, RedisRateLimitBackend

async def main(url):
    backend = RedisRateLimitBackend(url)
    try:
        await backend.peek("warm-up", Rate(1, 60))
        print("ready", flush=True)
        sys.stdin.readline()
        hits = [backend.hit("shared", Rate(50, 60)) for _ in range(60)]
        print(sum(result.allowed for result in await asyncio.gather(*hits)), flush=True)
    finally:
        await backend.close()

asyncio.run(main(sys.argv[1]))
"""


def test_redis_counts_exactly_across_processes(redis_url: str) -> None:
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", _WORKER, redis_url],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    with start() as first, start() as second:
        workers = [first, second]
        for worker in workers:  # both connected before either fires
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        allowed = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert sum(allowed) == 50

    async def peek() -> RateLimitResult:
        backend = RedisRateLimitBackend(redis_url)
        try:
            return await backend.peek("shared", Rate(50, 60))
        finally:
            await backend.close()

    result = asyncio.run(peek())
    assert (result.allowed, result.remaining) == (False, 0)


def test_importing_the_module_does_not_import_redis() -> None:
    code = ("import sys, zephyr.security.ratelimit_backends; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert output.stdout == "[]\n"
