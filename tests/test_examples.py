"""The showcase app (examples/showcase/app.py) driven through the test client, as a user would."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from examples.showcase.accounts import DEMO_NAME, DEMO_PASSWORD
from examples.showcase.app import app

from zephyr.security import MemoryRateLimitBackend
from zephyr.server import import_string_for
from zephyr.testing import TestClient

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A client with the lifespan running, so the guestbook starts with its one seed entry."""
    with TestClient(app) as client:
        yield client


def sign(client: TestClient, name: str, message: str) -> httpx.Response:
    return client.post("/guestbook", data={"name": name, "message": message})


# -- home page ---------------------------------------------------------------------------


def test_home_page_is_html_linking_to_every_part(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Zephyr</h1>" in r.text
    for link in ('href="/"', 'href="/guestbook"', 'href="/api/entries"', 'href="/api/entries/1"'):
        assert link in r.text


def test_head_of_the_home_page_has_the_headers_and_no_body(client: TestClient) -> None:
    get, head = client.get("/"), client.head("/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


# -- JSON API ----------------------------------------------------------------------------


def test_api_lists_the_seed_entry_as_json(client: TestClient) -> None:
    r = client.get("/api/entries")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    [entry] = r.json()
    assert set(entry) == {"id", "name", "message", "created"}
    assert (entry["id"], entry["name"]) == (1, "Zephyr")


def test_api_lists_newest_first_and_limit_caps_the_list(client: TestClient) -> None:
    for name in ("Ada", "Grace"):
        assert sign(client, name, "hello").status_code == 303
    assert [e["name"] for e in client.get("/api/entries").json()] == ["Grace", "Ada", "Zephyr"]
    limited = client.get("/api/entries", params={"limit": 2}).json()
    assert [e["id"] for e in limited] == [3, 2]


def test_api_gets_one_entry_by_its_typed_id(client: TestClient) -> None:
    r = client.get("/api/entries/1")
    assert r.status_code == 200
    assert r.json()["message"] == "Welcome! Leave a message below."


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/entries/99", 404, "there is no entry 99"),
        ("/api/entries/abc", 404, "no route matches this path"),
        ("/api/entries?limit=0", 422, "1 invalid value in the request; see 'errors'"),
        ("/api/entries?limit=101", 422, "1 invalid value in the request; see 'errors'"),
        ("/api/entries?limit=ten", 422, "1 invalid value in the request; see 'errors'"),
    ],
)
def test_api_errors_are_problem_json(
    client: TestClient, path: str, status: int, detail: str
) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    # The showcase runs in debug mode, which adds what the request sent.
    assert set(problem) - {"errors", "received"} == PROBLEM_KEYS
    assert (problem["status"], problem["detail"]) == (status, detail)
    assert problem["instance"].startswith("urn:zephyr:request:")


def test_a_bad_limit_names_the_query_field(client: TestClient) -> None:
    errors = client.get("/api/entries?limit=ten").json()["errors"]
    assert errors == [{"location": "query", "field": "limit",
                       "message": "Expected `int`, got `str`", "value": "ten"}]


def test_a_browser_gets_the_404_as_an_html_page(client: TestClient) -> None:
    r = client.get("/api/entries/99", headers={"accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1><span>404</span> Not Found</h1>" in r.text
    assert "<p>there is no entry 99</p>" in r.text


# -- guestbook ---------------------------------------------------------------------------


def test_guestbook_shows_the_seed_entry_and_a_form_posting_back(client: TestClient) -> None:
    r = client.get("/guestbook")
    assert r.status_code == 200
    assert "<strong>Zephyr</strong>: Welcome! Leave a message below." in r.text
    assert '<form method="post" action="/guestbook">' in r.text


def test_signing_redirects_with_303_then_lists_the_entry(client: TestClient) -> None:
    r = sign(client, "  Ada  ", "Hello from the engine room")
    assert r.status_code == 303
    assert r.headers["location"] == "/guestbook"
    assert "<strong>Ada</strong>: Hello from the engine room" in client.get("/guestbook").text
    entry = client.get("/api/entries/2").json()
    assert (entry["name"], entry["message"]) == ("Ada", "Hello from the engine room")


def test_signing_is_thanked_once_after_the_redirect(client: TestClient) -> None:
    r = client.post("/guestbook", data={"name": "Ada", "message": "hi"}, follow_redirects=True)
    assert [step.status_code for step in r.history] == [303]
    assert '<p class="message">Thank you for signing, Ada!</p>' in r.text
    assert "Thank you for signing" not in client.get("/guestbook").text


def test_an_invalid_form_shows_the_guestbook_again_with_the_problem(client: TestClient) -> None:
    r = client.post("/guestbook", data={"name": "Ada", "message": " "})
    assert '<p class="error">Please give a name' in r.text
    assert "<strong>Zephyr</strong>: Welcome! Leave a message below." in r.text


def test_entries_are_html_escaped_on_the_page(client: TestClient) -> None:
    assert sign(client, "<b>Eve</b>", "<script>alert(1)</script> & co").status_code == 303
    page = client.get("/guestbook").text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert f"<strong>&lt;b&gt;Eve&lt;/b&gt;</strong>: {escaped}" in page
    assert "<script>" not in page
    # The JSON API returns the text as it was given: escaping is the page's job.
    assert client.get("/api/entries/2").json()["name"] == "<b>Eve</b>"


def test_the_guestbook_is_reset_for_each_client(client: TestClient) -> None:
    sign(client, "Ada", "first")
    with TestClient(app) as fresh:
        assert [e["name"] for e in fresh.get("/api/entries").json()] == ["Zephyr"]


@pytest.mark.parametrize(
    "form",
    [
        {"message": "no name"},
        {"name": "Ada"},
        {"name": "   ", "message": "blank name"},
        {"name": "Ada", "message": "  \n "},
        {"name": "x" * 41, "message": "name too long"},
        {"name": "Ada", "message": "x" * 501},
    ],
)
def test_an_invalid_form_is_a_400_page_and_adds_nothing(
    client: TestClient, form: dict[str, str]
) -> None:
    r = client.post("/guestbook", data=form)
    assert r.status_code == 400
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "Please give a name (up to 40 characters) and a message (up to 500)." in r.text
    assert len(client.get("/api/entries").json()) == 1


def test_the_longest_allowed_name_and_message_are_accepted(client: TestClient) -> None:
    assert sign(client, "n" * 40, "m" * 500).status_code == 303
    assert client.get("/api/entries/2").json()["name"] == "n" * 40


def test_a_name_sent_as_a_file_is_refused(client: TestClient) -> None:
    r = client.post("/guestbook", data={"message": "hi"}, files={"name": ("a.txt", b"Ada")})
    assert r.status_code == 400
    assert "Please give a name" in r.text


def test_a_json_body_is_not_a_form(client: TestClient) -> None:
    r = client.post("/guestbook", json={"name": "Ada", "message": "hi"})
    assert r.status_code == 415
    assert r.json()["detail"].startswith("expected a form (Content-Type: ")


# -- running it --------------------------------------------------------------------------


def test_make_run_can_reload_the_app_by_its_import_string() -> None:
    assert import_string_for(app) == "examples.showcase.app:app"


# -- accounts: login, logout, CSRF, rate limit -------------------------------------------


@pytest.fixture
def fresh_limits(client: TestClient) -> TestClient:
    """The showcase app lives for the whole test session: start each test with no counts."""
    assert app.security is not None
    limits = app.security.limits
    assert isinstance(limits, MemoryRateLimitBackend)
    limits.clear()
    return client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient, password: str = DEMO_PASSWORD, next: str = "/account"
           ) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": DEMO_NAME, "password": password, "next": next,
                                       "csrf_token": token})


def test_the_login_page_styles_itself_with_the_nonce_of_its_csp(fresh_limits: TestClient) -> None:
    r = fresh_limits.get("/login")
    nonce = re.search(r'<style nonce="([^"]+)">', r.text)
    assert nonce
    assert f"style-src 'self' 'nonce-{nonce.group(1)}'" in r.headers["content-security-policy"]


def test_logging_in_renews_the_session_and_shows_the_account(fresh_limits: TestClient) -> None:
    client = fresh_limits
    client.get("/login")
    before = client.cookies.get("session")
    r = log_in(client)
    assert (r.status_code, r.headers["location"]) == (303, "/account")
    assert client.cookies.get("session") not in (None, before)
    assert "Hello, Demo user" in client.get("/account").text
    assert client.get("/api/me").json() == {"id": "demo", "name": "Demo user"}


def test_logging_out_ends_the_session(fresh_limits: TestClient) -> None:
    client = fresh_limits
    log_in(client)
    token = csrf_of(client.get("/account").text)
    r = client.post("/logout", data={"csrf_token": token})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    me = client.get("/api/me")
    assert me.status_code == 401
    assert me.headers["www-authenticate"] == 'Session realm="login"'
    assert client.get("/account").headers["location"] == "/login?next=%2Faccount"


def test_a_wrong_password_goes_back_to_the_form(fresh_limits: TestClient) -> None:
    r = log_in(fresh_limits, password="guess")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Faccount&failed=1"
    assert "Wrong name or password" in fresh_limits.get(r.headers["location"]).text
    assert fresh_limits.get("/api/me").status_code == 401


def test_the_login_is_limited_to_five_attempts_a_minute(fresh_limits: TestClient) -> None:
    statuses = [log_in(fresh_limits, password=f"guess-{i}").status_code for i in range(6)]
    assert statuses == [303] * 5 + [429]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil"])
def test_the_login_never_redirects_off_site(fresh_limits: TestClient, target: str) -> None:
    r = log_in(fresh_limits, next=target)
    assert (r.status_code, r.headers["location"]) == (303, "/")


def test_a_form_post_with_cookies_but_no_token_or_browser_verdict_is_refused() -> None:
    with TestClient(app, same_origin=False) as client:
        token = csrf_of(client.get("/guestbook").text)  # the page sets the CSRF cookie
        refused = client.post("/guestbook", data={"name": "Eve", "message": "forged"})
        signed = client.post("/guestbook", data={"name": "Ann", "message": "hi",
                                                 "csrf_token": token})
    assert (refused.status_code, refused.json()["reason"]) == (403, "csrf-token-missing")
    assert "csrf=False" in refused.json()["detail"]
    assert signed.status_code == 303


def test_a_script_without_cookies_uses_the_notes_api_without_a_token() -> None:
    # Like curl or httpx: no Sec-Fetch-Site, no Origin, no cookies.
    with TestClient(app, same_origin=False) as client:
        created = client.post("/api/notes", json={"title": "from a script"})
        note = created.json()
        replaced = client.put(f"/api/notes/{note['id']}", json={"title": "edited"})
        deleted = client.delete(f"/api/notes/{note['id']}")
    assert (created.status_code, note["title"]) == (201, "from a script")
    assert (replaced.status_code, replaced.json()["title"]) == (200, "edited")
    assert deleted.status_code == 204


def test_a_cross_site_form_post_is_refused(client: TestClient) -> None:
    r = client.post("/guestbook", data={"name": "Eve", "message": "forged"},
                    headers={"Sec-Fetch-Site": "cross-site", "Accept": "text/html"})
    assert r.status_code == 403
    assert "another site" in r.text
    assert "Eve" not in client.get("/guestbook").text
