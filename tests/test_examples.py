"""The showcase app (examples/showcase/app.py) driven through the test client, as a user would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from examples.showcase.app import app

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
        ("/api/entries/abc", 404, "no route matches '/api/entries/abc'"),
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
    assert set(problem) - {"errors"} == PROBLEM_KEYS
    assert (problem["status"], problem["detail"]) == (status, detail)
    assert problem["instance"] == path.partition("?")[0]


def test_a_bad_limit_names_the_query_field(client: TestClient) -> None:
    errors = client.get("/api/entries?limit=ten").json()["errors"]
    assert errors == [{"location": "query", "field": "limit",
                       "message": "Expected `int`, got `str`", "value": "ten"}]


def test_a_browser_gets_the_404_as_an_html_page(client: TestClient) -> None:
    r = client.get("/api/entries/99", headers={"accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>404 Not Found</h1>" in r.text
    assert "there is no entry 99" in r.text


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
