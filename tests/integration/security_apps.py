"""The apps test_security_server.py serves with real uvicorn processes to attack the request guard.

Every setting the guard reads is set here explicitly (the server helper strips
``ZEPHYR_*`` from the environment). Handlers record each call under the
``token`` query parameter; ``GET /calls/<token>`` tells a test whether a
refused request reached a handler.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from zephyr import Request, Zephyr

#: The guard's limits, small enough to trip without tripping uvicorn's own (h11: 16 KiB).
MAX_HEADER_COUNT = 20
MAX_HEADER_SIZE = 1024
BODY_TIMEOUT = 0.5
#: For ``idle_app``: a body may take long, but not pause for long.
LONG_BODY_TIMEOUT = 10.0
BODY_IDLE_TIMEOUT = 0.3


def build(*, trusted_proxies: list[str], body_timeout: float = BODY_TIMEOUT,
          body_idle_timeout: float = 15.0) -> Zephyr:
    """An app answering ``localhost`` and ``127.0.0.1`` that trusts ``trusted_proxies``."""
    app = Zephyr(
        __name__,
        allowed_hosts=["localhost", "127.0.0.1"],
        trusted_proxies=trusted_proxies,
        max_header_count=MAX_HEADER_COUNT,
        max_header_size=MAX_HEADER_SIZE,
        body_timeout=body_timeout,
        body_idle_timeout=body_idle_timeout,
    )
    # One server process serves a whole test module: tokens keep the tests apart.
    calls: defaultdict[str, list[str]] = defaultdict(list)

    @app.get("/whoami")
    async def whoami(request: Request, token: str = "") -> dict[str, Any]:
        calls[token].append("whoami")
        client = request.client
        return {
            "client": client.host if client else None,
            "scheme": request.url.scheme,
            "url": str(request.url),
        }

    @app.post("/upload", csrf=False)
    async def upload(request: Request, token: str = "") -> dict[str, int]:
        calls[token].append("upload started")
        body = await request.body()
        calls[token].append(f"upload read {len(body)}")
        return {"length": len(body)}

    @app.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/calls/<token>")
    async def calls_of(token: str) -> list[str]:
        return calls.get(token, [])

    return app


#: Believes no forwarding headers (the default of ``TRUSTED_PROXIES``).
app = build(trusted_proxies=[])
#: Believes forwarding headers from a proxy on the loopback address.
proxied_app = build(trusted_proxies=["127.0.0.1"])
#: Cuts a body off when it pauses, long before the whole of it is late.
idle_app = build(trusted_proxies=[], body_timeout=LONG_BODY_TIMEOUT,
                 body_idle_timeout=BODY_IDLE_TIMEOUT)
