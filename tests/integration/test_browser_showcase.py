"""The showcase in a real headless Chromium, served by a real uvicorn process.

Playwright drives Debian's Chromium (never a browser of its own) through the pages
as a visitor would: htmx swaps fragments without reloading the page (a marker put on
``window`` before the click is still there after it), a form posts and the flash
message shows after the redirect, the 404 page, the browser cache of the hashed and
the plain static URLs, and no page breaking its Content-Security-Policy. A failing
test saves a screenshot of its page and names it in the report.

The showcase process lives for the whole session, so each test makes the notes it
works on rather than counting on the welcome note.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from examples.showcase.accounts import DEMO_NAME, DEMO_PASSWORD
from playwright.sync_api import CDPSession, Page, expect

from tests.integration.conftest import Console, Server

pytestmark = pytest.mark.integration

MARKER = "window.showcaseMarker"
REFUSED = "Content Security Policy"
_numbers = itertools.count(1)


def unique(title: str) -> str:
    """``title`` with a number no other test's note has (they share the server)."""
    return f"{title} {next(_numbers)}"


def mark(page: Page) -> None:
    """Put a marker on the page's window: a full page load would lose it."""
    page.evaluate(f"{MARKER} = 'kept'")


def still_marked(page: Page) -> bool:
    return bool(page.evaluate(f"{MARKER} === 'kept'"))


# -- htmx swaps fragments, the page stays --------------------------------------------------


def test_adding_a_note_swaps_the_list_in_without_reloading(page: Page, showcase: Server) -> None:
    title = unique("Buy milk")
    page.goto(showcase.base_url + "/notes")
    mark(page)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Tags").fill("shop food")
    page.get_by_role("button", name="Add note").click()
    row = page.locator("#notes > li").filter(has_text=title)
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text(["shop", "food"])
    expect(page.locator("#messages")).to_have_text(f"Added “{title}”.")
    expect(page.get_by_label("Title")).to_have_value("")  # app.js reset the form
    assert still_marked(page)


def test_deleting_a_note_removes_its_row_without_reloading(page: Page, showcase: Server) -> None:
    title = unique("Old note")
    # A script without cookies uses the JSON API without a CSRF token.
    note = httpx.post(showcase.base_url + "/api/notes", json={"title": title}).json()
    page.goto(showcase.base_url + "/notes")
    mark(page)
    row = page.locator(f"#note-{note['id']}")
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    expect(page.locator("#messages")).to_have_text(f"Deleted “{title}”.")
    assert still_marked(page)
    assert httpx.get(f"{showcase.base_url}/api/notes/{note['id']}").status_code == 404


def test_the_counter_component_swaps_itself(page: Page, showcase: Server) -> None:
    page.goto(showcase.base_url + "/components")
    mark(page)
    counter = page.locator("#counter-likes")
    counter.get_by_role("button", name="one more").click()
    expect(counter.locator("output")).to_have_text("4")
    counter.get_by_role("button", name="one less").click()
    counter.get_by_role("button", name="one less").click()
    expect(counter.locator("output")).to_have_text("2")
    assert still_marked(page)


# -- a form, the redirect, the flash message -------------------------------------------------


def test_signing_the_guestbook_redirects_and_shows_the_flash_message(
    page: Page, showcase: Server
) -> None:
    name = unique("Ada")
    page.goto(showcase.base_url + "/guestbook")
    mark(page)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Message").fill("Hello from a real browser")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign").click()
    post = posted.value
    assert post.status == 303
    assert "csrf_token=" in (post.request.post_data or "")  # the form's CSRF field went along
    page.wait_for_url(showcase.base_url + "/guestbook")
    expect(page.locator(".flash")).to_have_text(f"Thank you for signing, {name}!")
    expect(page.locator(".entry").filter(has_text=name)).to_have_count(1)
    assert not still_marked(page)  # a plain form: the browser loaded a new page
    page.reload()
    expect(page.locator(".flash")).to_have_count(0)  # shown once


def test_logging_in_shows_the_account_with_a_welcome(
    page: Page, console: Console, showcase: Server
) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(showcase.base_url + "/account")  # anonymous: sent to the login form
    page.wait_for_url(showcase.base_url + "/login?next=%2Faccount")
    page.get_by_label("Name").fill(DEMO_NAME)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(showcase.base_url + "/account")
    expect(page.locator(".flash")).to_have_text("Welcome, Demo user!")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Demo user")
    assert violations(page, console) == []
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(showcase.base_url + "/")
    expect(page.locator(".flash")).to_have_text("You are logged out.")


# -- the 404 page --------------------------------------------------------------------------

# The errors/<status>.html lookup comes with the error pages of another branch (web-w3).
def test_a_missing_page_is_the_showcase_404_page(page: Page, showcase: Server) -> None:
    response = page.goto(showcase.base_url + "/no/such/page")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is not here")
    expect(page.get_by_role("link", name="Back to the home page")).to_have_attribute("href", "/")


# -- the browser cache -----------------------------------------------------------------------


class Network:
    """What Chromium's network layer did, from its DevTools protocol: Playwright reports a
    resource from the memory cache, and one revalidated with a 304, as plain 200s."""

    def __init__(self, cdp: CDPSession) -> None:
        self.urls: dict[str, str] = {}
        self.from_cache: list[str] = []
        self.sent: dict[str, dict[str, str]] = {}  # the request headers that went out
        self.status: dict[str, int] = {}  # the status that came back on the wire
        cdp.on("Network.requestWillBeSent", self._will_send)
        cdp.on("Network.requestServedFromCache",
               lambda e: self.from_cache.append(self.urls[e["requestId"]]))
        cdp.on("Network.requestWillBeSentExtraInfo", self._sent)
        cdp.on("Network.responseReceivedExtraInfo", self._received)
        cdp.send("Network.enable")

    def _will_send(self, event: dict[str, object]) -> None:
        request = event["request"]
        assert isinstance(request, dict)
        self.urls[str(event["requestId"])] = str(request["url"])

    def _sent(self, event: dict[str, object]) -> None:
        if (url := self.urls.get(str(event["requestId"]))) is not None:
            headers = event["headers"]
            assert isinstance(headers, dict)
            self.sent[url] = {str(k).lower(): str(v) for k, v in headers.items()}

    def _received(self, event: dict[str, object]) -> None:
        if (url := self.urls.get(str(event["requestId"]))) is not None:
            self.status[url] = int(str(event["statusCode"]))

    def clear(self) -> None:
        self.from_cache.clear()
        self.sent.clear()
        self.status.clear()


@pytest.fixture
def network(page: Page) -> Iterator[Network]:
    cdp = page.context.new_cdp_session(page)
    yield Network(cdp)
    cdp.detach()


def requests_for(server: Server, path: str) -> list[str]:
    """The access-log lines of ``GET path`` (uvicorn's log says what reached the server)."""
    return [line for line in server.output().splitlines() if f'"GET {path} HTTP/1.1"' in line]


def test_the_hashed_stylesheet_is_kept_and_a_plain_url_is_revalidated(
    page: Page, showcase: Server, network: Network
) -> None:
    page.goto(showcase.base_url + "/notes")
    css = page.locator("link[rel=stylesheet]").get_attribute("href")
    assert css is not None
    assert css.startswith("/static/app.")
    assert css != "/static/app.css"
    # The stylesheet applied under style-src 'self': the page has app.css's canvas colour.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(245, 246, 250)"
    asked = len(requests_for(showcase, css))

    # A reload asks for the page again, but the hashed stylesheet is fresh for a year
    # (immutable): Chromium takes it from its cache without asking the server.
    network.clear()
    page.reload()
    assert showcase.base_url + css in network.from_cache
    assert showcase.base_url + css not in network.status  # nothing went on the wire
    assert len(requests_for(showcase, css)) == asked

    # The plain URL is "no-cache" in debug mode (the showcase's): reloading it sends the
    # ETag it came with, and the server answers 304 Not Modified, without the body.
    plain = showcase.base_url + "/static/app.css"
    first = page.goto(plain)
    assert first is not None
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    network.clear()
    page.reload()
    assert network.sent[plain]["if-none-match"] == etag
    assert network.status[plain] == 304
    assert requests_for(showcase, "/static/app.css")[-1].endswith(" 304 Not Modified")


# -- the Content-Security-Policy -------------------------------------------------------------

# Each refusal the policy makes, as the page's securitypolicyviolation event reports it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def violations(page: Page, console: Console) -> list[str]:
    seen: list[str] = page.evaluate("window.cspViolations")
    return seen + [line for line in console.lines if REFUSED in line]


@pytest.mark.parametrize("path", ["/", "/notes", "/guestbook", "/components", "/login",
                                  "/no/such/page"])
def test_no_showcase_page_breaks_its_policy(
    page: Page, console: Console, showcase: Server, path: str
) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(showcase.base_url + path)
    page.wait_for_load_state("load")
    assert page.evaluate("htmx.version") == "2.0.11"  # the vendored script ran
    assert violations(page, console) == []


def test_a_violation_would_be_seen(page: Page, console: Console, showcase: Server) -> None:
    # The control: an inline style without the nonce on a showcase page is refused, and both
    # the event and the console report it, so the test above would see one.
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(showcase.base_url + "/notes")
    page.evaluate("document.head.append(Object.assign(document.createElement('style'), "
                  "{textContent: 'body { color: red }'}))")
    page.wait_for_function("window.cspViolations.length > 0")
    found = violations(page, console)
    assert found[0] == "style-src-elem inline"
    assert any(REFUSED in line for line in found[1:])
