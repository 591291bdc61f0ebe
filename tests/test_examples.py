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
#: One guestbook entry as the page shows it.
ENTRY = '<li class="entry"><div><h3>{name}</h3><p>{message}</p></div></li>'


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
    for link in ('href="/"', 'href="/notes"', 'href="/guestbook"', 'href="/components"',
                 'href="/login"', 'href="/docs"', 'href="/api/entries"',
                 'href="/api/entries/1"', 'href="/api/me"'):
        assert link in r.text


@pytest.mark.parametrize("encoding", ["identity", "br"])
def test_head_of_the_home_page_has_the_headers_and_no_body(
    client: TestClient, encoding: str
) -> None:
    get = client.get("/", headers={"Accept-Encoding": encoding})
    head = client.head("/", headers={"Accept-Encoding": encoding})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-encoding", "vary"):
        assert head.headers.get(name) == get.headers.get(name)
    # The showcase compresses (COMPRESSION): a compressed HEAD says no length (compression.md).
    assert head.headers.get("content-length") == (
        get.headers["content-length"] if encoding == "identity" else None)


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
    # Which page (Zephyr's or the showcase's errors/404.html): see the end of this file.
    r = client.get("/api/entries/99", headers={"accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "there is no entry 99</p>" in r.text


# -- guestbook ---------------------------------------------------------------------------


def test_guestbook_shows_the_seed_entry_and_a_form_posting_back(client: TestClient) -> None:
    r = client.get("/guestbook")
    assert r.status_code == 200
    assert ENTRY.format(name="Zephyr", message="Welcome! Leave a message below.") in r.text
    assert '<form class="panel stack" method="post" action="/guestbook">' in r.text


def test_signing_redirects_with_303_then_lists_the_entry(client: TestClient) -> None:
    r = sign(client, "  Ada  ", "Hello from the engine room")
    assert r.status_code == 303
    assert r.headers["location"] == "/guestbook"
    assert ENTRY.format(name="Ada", message="Hello from the engine room") in client.get(
        "/guestbook").text
    entry = client.get("/api/entries/2").json()
    assert (entry["name"], entry["message"]) == ("Ada", "Hello from the engine room")


def test_signing_is_thanked_once_after_the_redirect(client: TestClient) -> None:
    r = client.post("/guestbook", data={"name": "Ada", "message": "hi"}, follow_redirects=True)
    assert [step.status_code for step in r.history] == [303]
    assert '<p class="flash flash-message">Thank you for signing, Ada!</p>' in r.text
    assert "Thank you for signing" not in client.get("/guestbook").text


def test_an_invalid_form_shows_the_guestbook_again_with_the_problem(client: TestClient) -> None:
    r = client.post("/guestbook", data={"name": "Ada", "message": " "})
    assert '<p class="form-error">Please give a name' in r.text
    assert ENTRY.format(name="Zephyr", message="Welcome! Leave a message below.") in r.text


def test_entries_are_html_escaped_on_the_page(client: TestClient) -> None:
    assert sign(client, "<b>Eve</b>", "<script>alert(1)</script> & co").status_code == 303
    page = client.get("/guestbook").text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert ENTRY.format(name="&lt;b&gt;Eve&lt;/b&gt;", message=escaped) in page
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




def test_logging_in_renews_the_session_and_shows_the_account(fresh_limits: TestClient) -> None:
    client = fresh_limits
    client.get("/login")
    before = client.cookies.get("session")
    r = log_in(client)
    assert (r.status_code, r.headers["location"]) == (303, "/account")
    assert client.cookies.get("session") not in (None, before)
    account = client.get("/account").text
    assert "<h1>Hello, Demo user</h1>" in account
    assert '<p class="flash flash-message">Welcome, Demo user!</p>' in account
    assert client.get("/api/me").json() == {"id": "demo", "name": "Demo user"}


def test_logging_out_ends_the_session(fresh_limits: TestClient) -> None:
    client = fresh_limits
    log_in(client)
    token = csrf_of(client.get("/account").text)
    r = client.post("/logout", data={"csrf_token": token})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    assert '<p class="flash flash-message">You are logged out.</p>' in client.get("/").text
    me = client.get("/api/me")
    assert me.status_code == 401
    assert me.headers["www-authenticate"] == 'Session realm="login"'
    assert client.get("/account").headers["location"] == "/login?next=%2Faccount"


def test_a_wrong_password_goes_back_to_the_form_with_a_message(
    fresh_limits: TestClient,
) -> None:
    r = log_in(fresh_limits, password="guess")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Faccount"
    page = fresh_limits.get(r.headers["location"]).text
    assert '<p class="flash flash-error">Wrong name or password.</p>' in page
    assert 'name="next" value="/account"' in page
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


# -- the layout and its assets -----------------------------------------------------------

PAGES = ["/", "/notes", "/guestbook", "/components", "/login"]
ASSETS = {"favicon.svg": "image/svg+xml", "app.css": "text/css; charset=utf-8",
          "vendor/htmx.min.js": "text/javascript; charset=utf-8",
          "app.js": "text/javascript; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_its_assets_by_hashed_url_and_nothing_inline(
    client: TestClient, path: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', r.text))) == sorted(
        app.static_url(name) for name in ASSETS)
    # The CSP allows this site's files only: no inline style or script, so no nonce either.
    assert "<style" not in r.text
    assert " style=" not in r.text
    assert re.findall(r"<script(?![^>]* src=)", r.text) == []
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert '<body hx-headers=\'{"X-CSRF-Token":"' in r.text


@pytest.mark.parametrize(("name", "content_type"), ASSETS.items())
def test_the_assets_are_cached_for_a_year_under_their_hashed_url(
    client: TestClient, name: str, content_type: str
) -> None:
    r = client.get(app.static_url(name))
    assert (r.status_code, r.headers["content-type"]) == (200, content_type)
    assert r.headers["cache-control"] == IMMUTABLE


def test_htmx_is_the_vendored_2_0_11_with_its_licence(client: TestClient) -> None:
    assert 'version:"2.0.11"' in client.get(app.static_url("vendor/htmx.min.js")).text
    licence = client.get("/static/vendor/htmx.LICENSE.txt")
    assert licence.text.startswith("Zero-Clause BSD\n")


@pytest.mark.parametrize(("path", "link"), [("/notes", "Notes"), ("/components", "Components")])
def test_the_navigation_marks_the_current_page(client: TestClient, path: str, link: str) -> None:
    page = client.get(path).text
    assert f'<a href="{path}" aria-current="page">{link}</a>' in page
    assert page.count('aria-current="page"') == 1


# -- notes with htmx ---------------------------------------------------------------------

HX = {"HX-Request": "true"}
NOTES_LIST = '<ul id="notes" class="entries">'


def message(text: str, category: str = "message") -> str:
    """The flash messages block with one message, as the layout (and htmx's answers) have it."""
    return ('<div id="messages" class="messages" role="status" hx-swap-oob="true">\n'
            f'<p class="flash flash-{category}">{text}</p></div>')


def note_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li class="entry" id="note-(\d+)">', page)]


def test_the_notes_page_lists_the_welcome_note_with_its_forms(client: TestClient) -> None:
    r = client.get("/notes")
    assert r.status_code == 200
    assert note_ids(r.text) == [1]
    assert '<h3>Try htmx</h3>' in r.text
    assert ('<span class="tags"><span class="badge badge-info">htmx</span>'
            '<span class="badge badge-info">demo</span></span>') in r.text
    # Each form works with and without JavaScript.
    assert ('<form id="add-note" class="panel stack" method="post" action="/notes"\n'
            '      hx-post="/notes" hx-target="#notes" hx-swap="outerHTML" data-reset>') in r.text
    assert ('<form class="inline" method="post" action="/notes/1/delete"\n      '
            'hx-delete="/notes/1" hx-target="closest li" hx-swap="outerHTML swap:200ms">'
            ) in r.text


def test_adding_without_javascript_redirects_and_shows_the_message_once(
    client: TestClient,
) -> None:
    r = client.post("/notes", data={"title": " milk ", "tags": "shop  food", "body": "2 l"})
    assert (r.status_code, r.headers["location"]) == (303, "/notes")
    page = client.get("/notes").text
    assert message("Added “milk”.") in page
    assert note_ids(page) == [2, 1]  # newest first
    assert message("Added “milk”.") not in client.get("/notes").text
    # The pages and the JSON API share the notes.
    newest = client.get("/api/notes").json()[0]
    assert (newest["title"], newest["body"], newest["tags"]) == ("milk", "2 l", ["shop", "food"])


def test_adding_with_htmx_answers_the_new_list_and_the_message_out_of_band(
    client: TestClient,
) -> None:
    r = client.post("/notes", data={"title": "milk"}, headers=HX)
    assert r.status_code == 200
    assert r.text.startswith(NOTES_LIST + '<li class="entry" id="note-2">')
    assert r.text.endswith("</li></ul>" + message("Added “milk”."))
    assert note_ids(r.text) == [2, 1]
    assert "Added" not in client.get("/notes").text  # shown by the answer: not again


@pytest.mark.parametrize(
    "form",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 101},
        {"title": "ok", "tags": "Not_A_Tag"},
        {"title": "ok", "tags": " ".join(["tag"] * 11)},
        {"title": "ok", "body": "x" * 10_001},
    ],
    ids=["empty", "blank", "long-title", "bad-tag", "eleven-tags", "long-body"],
)
@pytest.mark.parametrize("with_htmx", [True, False], ids=["htmx", "plain"])
def test_an_invalid_note_is_a_422_with_the_form_again_and_adds_nothing(
    client: TestClient, form: dict[str, str], with_htmx: bool
) -> None:
    r = client.post("/notes", data=form, headers=HX if with_htmx else {})
    assert r.status_code == 422
    assert ('<p class="form-error">Please give a title (up to 100 characters); tags are up to '
            '10 words of lowercase letters, digits and dashes.</p>') in r.text
    title = form["title"].strip()
    assert f'<input name="title" required maxlength="100" value="{title}">' in r.text
    if with_htmx:  # only the form, swapped in place of the form
        assert r.text.startswith('<form id="add-note"')
        assert (r.headers["hx-retarget"], r.headers["hx-reswap"]) == ("#add-note", "outerHTML")
    else:
        assert r.text.startswith("<!doctype html>")
        assert note_ids(r.text) == [1]
    assert len(client.get("/api/notes").json()) == 1


def test_a_note_is_escaped_on_the_page(client: TestClient) -> None:
    client.post("/notes", data={"title": "<script>alert(1)</script>"})
    page = client.get("/notes").text
    assert "<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3>" in page
    assert message("Added “&lt;script&gt;alert(1)&lt;/script&gt;”.") in page


def test_deleting_with_htmx_answers_only_the_message(client: TestClient) -> None:
    r = client.delete("/notes/1", headers=HX)
    assert (r.status_code, r.text) == (200, message("Deleted “Try htmx”."))
    page = client.get("/notes").text
    assert f"{NOTES_LIST}</ul>" in page  # empty: the "no notes yet" line shows (app.css)
    assert client.get("/api/notes").json() == []


def test_deleting_without_javascript_redirects_with_the_message(client: TestClient) -> None:
    r = client.post("/notes/1/delete")
    assert (r.status_code, r.headers["location"]) == (303, "/notes")
    page = client.get("/notes").text
    assert message("Deleted “Try htmx”.") in page
    assert note_ids(page) == []


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/notes/9"), ("POST", "/notes/9/delete")])
def test_deleting_a_missing_note_is_a_404(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path, headers=HX)
    assert (r.status_code, r.json()["detail"]) == (404, "there is no note 9")


def test_htmx_requests_carry_the_csrf_token_of_the_body() -> None:
    # A browser that gives no Sec-Fetch-Site verdict: the token in hx-headers is what passes.
    with TestClient(app, same_origin=False) as client:
        page = client.get("/notes").text
        token = re.search(r"hx-headers='\{\"X-CSRF-Token\":\"([^\"]+)\"\}'", page)
        assert token
        refused = client.delete("/notes/1", headers=HX)
        deleted = client.delete("/notes/1", headers={**HX, "X-CSRF-Token": token.group(1)})
    assert (refused.status_code, refused.json()["reason"]) == (403, "csrf-token-missing")
    assert deleted.status_code == 200


# -- components --------------------------------------------------------------------------

COUNTER = (
    '<span class="counter" id="counter-likes" hx-target="this" hx-swap="outerHTML">\n'
    '<button class="ghost small" aria-label="one less" '
    'hx-get="/components/counter?name=likes&amp;count={less}">&minus;</button>\n'
    '<output aria-live="polite">{count}</output>\n'
    '<button class="ghost small" aria-label="one more" '
    'hx-get="/components/counter?name=likes&amp;count={more}">+</button>\n</span>'
)


def test_the_components_page_shows_cards_badges_and_a_counter(client: TestClient) -> None:
    page = client.get("/components").text
    assert '<article class="card">\n<h2>A card</h2>' in page
    for tone in ("info", "success", "warning"):
        assert f'<span class="badge badge-{tone}">{tone}</span>' in page
    assert COUNTER.format(less=2, count=3, more=4) in page


def test_the_home_page_is_made_of_cards(client: TestClient) -> None:
    page = client.get("/").text
    assert page.count('<article class="card">') == 6
    assert '<article class="card">\n<h2><a href="/notes">Notes with htmx</a></h2>' in page


def test_the_counter_answers_its_next_state_from_its_endpoint(client: TestClient) -> None:
    r = client.get("/components/counter", params={"name": "likes", "count": 4}, headers=HX)
    assert (r.status_code, r.text) == (200, COUNTER.format(less=3, count=4, more=5))
    bad = client.get("/components/counter", params={"name": "likes", "count": "four"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "count"


# -- the 404 page ------------------------------------------------------------------------

# The errors/<status>.html lookup comes with the error pages of another branch (web-w3).
def test_a_browser_gets_the_showcase_404_page_in_the_layout(client: TestClient) -> None:
    r = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert (r.status_code, r.headers["content-type"]) == (404, "text/html; charset=utf-8")
    assert '<p class="code">404</p>\n<h1>This page is not here</h1>' in r.text
    assert '<a class="button" href="/">Back to the home page</a>' in r.text
    assert f'href="{app.static_url("app.css")}"' in r.text
    api = client.get("/no/such/page")
    assert api.headers["content-type"] == "application/problem+json"
