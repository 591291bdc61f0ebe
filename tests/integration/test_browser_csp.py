"""Pages under the Content-Security-Policy, in a real headless Chromium.

Chromium loads each page from a real uvicorn process and prints the DOM it
built; its console (on stderr) reports every resource the policy refused.
The showcase's pages style themselves with the request's nonce, and Swagger
UI renders the API under the policy its page gets. A page with an inline
style and no nonce shows that a refusal would be seen.

Chromium comes from Debian's ``chromium`` package (.ci/run installs it); the
tests skip without it, except under ``ZEPHYR_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.conftest import Server, ServerPool, uvicorn_command

pytestmark = pytest.mark.integration

REFUSED = "Content Security Policy"


@pytest.fixture(scope="module")
def browser(chromium: str) -> str:
    return chromium


@pytest.fixture(scope="module")
def showcase(session_pool: ServerPool) -> Server:
    return session_pool.start(uvicorn_command("examples.showcase.app:app"))


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


@pytest.mark.parametrize("path", ["/", "/login", "/guestbook"])
def test_showcase_pages_load_everything_under_their_policy(
    browser: str, showcase: Server, path: str
) -> None:
    dom, console = render(browser, showcase.base_url + path)
    assert "<nav>" in dom
    assert REFUSED not in console, console[-2000:]


def test_swagger_ui_renders_the_api_under_its_policy(browser: str, showcase: Server) -> None:
    dom, console = render(browser, showcase.base_url + "/docs")
    assert 'class="swagger-ui' in dom
    assert "/api/notes" in dom  # the operations were rendered from /openapi.json
    assert REFUSED not in console, console[-2000:]


def test_redoc_renders_the_api_under_its_policy(browser: str, showcase: Server) -> None:
    dom, console = render(browser, showcase.base_url + "/redoc")
    assert "redoc-wrap" in dom
    assert "/api/notes" in dom
    # ReDoc's "powered by" logo lives on its CDN: refused, as every off-site load is.
    refusals = [line for line in console.splitlines() if REFUSED in line]
    assert all("https://cdn.redoc.ly/" in line for line in refusals), refusals


def test_an_inline_style_without_the_nonce_is_refused(browser: str, showcase: Server) -> None:
    # The control: a refusal shows up in the console, so the tests above would see one.
    page = ("data:text/html,<meta http-equiv='Content-Security-Policy' content=\"style-src "
            "'self'\"><style>body{color:red}</style><p>x</p>")
    _, console = render(browser, page)
    assert REFUSED in console
