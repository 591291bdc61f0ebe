"""CORS in a real headless Chromium, across two real uvicorn processes.

A page served by one process (its origin: ``http://127.0.0.1:<port>``, or the other
origin ``http://localhost:<port>`` of the same server) fetches from the API served by
the other process, and the test reads what the page saw. The API allows the first
origin only; its ``/shared`` group allows both, with credentials, and CSRF trusts the
first only. Playwright drives Debian's Chromium (never a browser of its own); a failing
test saves a screenshot of the page and names it in the report.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page

from tests.integration.conftest import Server, ServerPool, uvicorn_command

pytestmark = pytest.mark.integration

FAILED_TO_FETCH = {"error": "TypeError: Failed to fetch"}


@pytest.fixture(scope="module")
def servers(session_pool: ServerPool) -> tuple[Server, Server]:
    """The page server, then the API server that allows its 127.0.0.1 origin."""
    pages = session_pool.start(uvicorn_command("tests.integration.cors_apps:pages"))
    origin = f"http://127.0.0.1:{pages.port}"
    api = session_pool.start(uvicorn_command("tests.integration.cors_apps:api"), env={
        "ZEPHYR_CORS_ALLOW_ORIGINS": origin, "ZEPHYR_CSRF_TRUSTED_ORIGINS": origin})
    return pages, api


def seen_by_the_page(page: Page, servers: tuple[Server, Server], page_host: str, path: str,
                     **fetch: str) -> dict[str, Any]:
    """Open the page on ``page_host``, let it fetch ``path`` from the API, read what it saw."""
    pages, api = servers
    asked = {"url": api.base_url + path, "method": "GET", "credentials": "same-origin", **fetch}
    page.goto(f"http://{page_host}:{pages.port}/?{urlencode(asked)}")
    page.wait_for_selector("#result[data-done=yes]", timeout=10_000)
    seen: dict[str, Any] = json.loads(page.inner_text("#result"))
    if "body" in seen:
        seen["body"] = json.loads(seen["body"])
    return seen


ALLOWED, OTHER = "127.0.0.1", "localhost"


@pytest.mark.parametrize(
    ("page_host", "path", "fetch", "expected"),
    [
        # A simple GET: the allowed origin reads the JSON, another gets the browser's refusal.
        (ALLOWED, "/data", {}, {"status": 200, "body": {"items": [1, 2]}}),
        (OTHER, "/data", {}, FAILED_TO_FETCH),
        # A PUT with JSON is preflighted: the preflight is answered (or refused) first.
        (ALLOWED, "/data", {"method": "PUT", "body": '{"items": [3]}'},
         {"status": 200, "body": {"items": [3]}}),
        (OTHER, "/data", {"method": "PUT", "body": '{"items": [3]}'}, FAILED_TO_FETCH),
    ],
    ids=["get-allowed", "get-refused", "preflighted-allowed", "preflighted-refused"],
)
def test_a_page_reads_the_api_only_from_an_allowed_origin(
    page: Page, servers: tuple[Server, Server], page_host: str, path: str,
    fetch: dict[str, str], expected: dict[str, Any],
) -> None:
    assert seen_by_the_page(page, servers, page_host, path, **fetch) == expected


@pytest.mark.parametrize(
    ("page_host", "expected"),
    [
        (ALLOWED, {"status": 200, "body": {"saved": "hello"}}),
        # Allowed to read is not allowed to act: CSRF trusts only the first origin, and the
        # page can read why it was refused (the refusal carries the CORS headers too).
        (OTHER, {"status": 403, "reason": "csrf-sec-fetch-site"}),
    ],
    ids=["csrf-trusted", "csrf-refused"],
)
def test_a_credentialed_post_needs_cors_and_csrf(
    page: Page, servers: tuple[Server, Server], page_host: str, expected: dict[str, Any],
) -> None:
    seen = seen_by_the_page(page, servers, page_host, "/shared/notes", method="POST",
                            body='{"text": "hello"}', credentials="include")
    if "reason" in expected:
        seen = {"status": seen.get("status"), "reason": seen.get("body", {}).get("reason")}
    assert seen == expected
