"""Pages under the Content-Security-Policy, in a real headless Chromium.

Chromium loads each page from a real uvicorn process and prints the DOM it
built; its console (on stderr) reports every resource the policy refused.
Swagger UI and ReDoc render the showcase's API under the policy their pages
get. A page with an inline style and no nonce shows that a refusal would be
seen. (The showcase's own pages are checked in test_browser_showcase.py.)

Chromium comes from Debian's ``chromium`` package (.ci/run installs it); the
tests skip without it, except under ``ZEPHYR_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

REFUSED = "Content Security Policy"


def render(browser: str, url: str) -> tuple[str, str]:
    """The DOM Chromium built for ``url`` and what its console said."""
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def test_swagger_ui_renders_the_api_under_its_policy(chromium: str, showcase: Server) -> None:
    dom, console = render(chromium, showcase.base_url + "/docs")
    assert 'class="swagger-ui' in dom
    assert "/api/notes" in dom  # the operations were rendered from /openapi.json
    assert REFUSED not in console, console[-2000:]


def test_redoc_renders_the_api_under_its_policy(chromium: str, showcase: Server) -> None:
    dom, console = render(chromium, showcase.base_url + "/redoc")
    assert "redoc-wrap" in dom
    assert "/api/notes" in dom
    # ReDoc's "powered by" logo lives on its CDN: refused, as every off-site load is.
    refusals = [line for line in console.splitlines() if REFUSED in line]
    assert all("https://cdn.redoc.ly/" in line for line in refusals), refusals


def test_an_inline_style_without_the_nonce_is_refused(chromium: str, showcase: Server) -> None:
    # The control: a refusal shows up in the console, so the tests above would see one.
    page = ("data:text/html,<meta http-equiv='Content-Security-Policy' content=\"style-src "
            "'self'\"><style>body{color:red}</style><p>x</p>")
    _, console = render(chromium, page)
    assert REFUSED in console
