"""An app with a Redis-backed rate limit, served by several uvicorn processes at once.

The Redis URL comes from ``RATELIMIT_TEST_REDIS`` (``ZEPHYR_*`` settings of the
shell are not passed to test servers); ``/limited`` allows 10 requests a minute.
"""

from __future__ import annotations

import os

from zephyr import Zephyr
from zephyr.security import limit

REDIS_ENV = "RATELIMIT_TEST_REDIS"
LIMIT = 10  # the test counts on this number


def _redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        raise RuntimeError(f"set {REDIS_ENV} to the Redis URL the rate limits count in")
    return url


app = Zephyr(__name__, rate_limit_backend="redis", redis_url=_redis_url())


@app.get("/limited")
@limit(f"{LIMIT}/minute")
async def limited() -> dict[str, int]:
    return {"pid": os.getpid()}
