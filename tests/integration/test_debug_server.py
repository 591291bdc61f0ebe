"""The debug page behind a real uvicorn process: shown to a client on this machine, never to
a request that came through a proxy, whether uvicorn believed the proxy's headers or not."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import ServeApp

pytestmark = pytest.mark.integration

BROWSER = {"Accept": "text/html"}
DEBUG_PAGE = "<p class=kind>RuntimeError</p><h1>the debug page shows this</h1>"
PLAIN_PAGE = "<h1><span>500</span> Internal Server Error</h1>"


@pytest.mark.parametrize("parser", ["h11", "httptools"])
@pytest.mark.parametrize("proxy_headers", ["--proxy-headers", "--no-proxy-headers"])
def test_only_a_loopback_request_without_proxy_headers_gets_the_debug_page(
    serve: ServeApp, parser: str, proxy_headers: str
) -> None:
    # uvicorn's default (--proxy-headers, believed from 127.0.0.1) makes the forwarded address
    # the client, which is not on this machine; without it the header itself refuses the page.
    server = serve("tests.integration.apps:debug_app", "--http", parser, proxy_headers)
    direct = httpx.get(f"{server.base_url}/boom", headers=BROWSER, timeout=5.0)
    assert direct.status_code == 500
    assert DEBUG_PAGE in direct.text
    for forwarded in ("203.0.113.9", "127.0.0.1"):
        proxied = httpx.get(f"{server.base_url}/boom", timeout=5.0,
                            headers={**BROWSER, "X-Forwarded-For": forwarded})
        assert proxied.status_code == 500
        assert PLAIN_PAGE in proxied.text
        assert "RuntimeError" not in proxied.text
    assert "debug page not shown for request id" in server.output()
