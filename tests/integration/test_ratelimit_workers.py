"""Rate limits counted in Redis hold across server processes: two uvicorns, one budget.

Two separate uvicorn processes (more deterministic than ``--workers 2``, whose
kernel-balanced accept queue may hand every request to one worker) serve
``tests.integration.ratelimit_app`` against the test Redis database.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.conftest import Server, ServerPool, uvicorn_command

pytestmark = pytest.mark.integration

# As in ratelimit_app (not imported here: importing it builds its app, which needs the URL).
REDIS_ENV = "RATELIMIT_TEST_REDIS"
LIMIT = 10
REQUESTS = 30


def test_two_processes_share_one_redis_rate_limit(launch: ServerPool, redis_url: str) -> None:
    command = uvicorn_command("tests.integration.ratelimit_app:app")
    servers = [launch.start(command, env={REDIS_ENV: redis_url}) for _ in range(2)]
    start_together = threading.Barrier(REQUESTS)

    def fire(index: int) -> tuple[Server, httpx.Response]:
        server = servers[index % 2]
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            start_together.wait(timeout=10)
            return server, client.get("/limited")

    with ThreadPoolExecutor(REQUESTS) as pool:
        answers = list(pool.map(fire, range(REQUESTS)))

    statuses = Counter(response.status_code for _, response in answers)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}
    assert Counter(server.port for server, _ in answers) == {
        server.port: REQUESTS // 2 for server in servers}
    passed = [response for _, response in answers if response.status_code == 200]
    # Each allowed request was counted once, atomically: the remainders are 9, 8, ... 0.
    assert sorted(int(r.headers["RateLimit-Remaining"]) for r in passed) == list(range(LIMIT))
    assert all(r.headers["RateLimit-Limit"] == str(LIMIT) for _, r in answers)
    refused = [response for _, response in answers if response.status_code == 429]
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in refused)
    assert all(r.headers["RateLimit-Remaining"] == "0" for r in refused)
    for server in servers:
        assert server.process.poll() is None, server.output()
