"""Flash messages: stored in the session, shown once, across a post/redirect/get."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from zephyr import (
    HTMLResponse,
    RedirectResponse,
    Request,
    Zephyr,
    flash,
    get_flashed_messages,
    render_template,
)
from zephyr.errors import ContextError
from zephyr.testing import TestClient

LAYOUT = """{% for category, message in get_flashed_messages(with_categories=true) %}\
<p class="{{ category }}">{{ message }}</p>{% endfor %}
<form method="post" action="{{ url_for('save') }}">\
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">\
<input name="title"></form>"""


@pytest.fixture
def notes_app(tmp_path: Path) -> Zephyr:
    write_tree(tmp_path / "templates", {"notes.html": LAYOUT})
    app = Zephyr(root_path=tmp_path)

    @app.get("/notes")
    async def notes() -> HTMLResponse:
        return render_template("notes.html")

    @app.post("/notes")
    async def save(request: Request) -> RedirectResponse:
        title = (await request.form()).get("title")
        if not title:
            flash("A note needs a title.", "error")
        else:
            flash(f"Saved {title}.")
            flash("Saved 1 note.", "info")
        return RedirectResponse("/notes", status_code=303)

    return app


def token_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_post_redirect_get_shows_each_message_once(notes_app: Zephyr) -> None:
    # A client that sends no browser verdict: the CSRF token in the form is what passes.
    with TestClient(notes_app, same_origin=False) as client:
        token = token_of(client.get("/notes").text)
        r = client.post("/notes", data={"title": "<Groceries>", "csrf_token": token},
                        follow_redirects=True)
        again = client.get("/notes")
    assert r.status_code == 200
    assert [response.status_code for response in r.history] == [303]
    assert r.text.startswith('<p class="message">Saved &lt;Groceries&gt;.</p>'
                             '<p class="info">Saved 1 note.</p>\n')
    assert "<p" not in again.text.split("<form")[0]


def test_a_post_without_the_token_is_refused_and_flashes_nothing(notes_app: Zephyr) -> None:
    with TestClient(notes_app, same_origin=False) as client:
        client.get("/notes")
        refused = client.post("/notes", data={"title": "x"})
        page = client.get("/notes")
    assert (refused.status_code, refused.json()["reason"]) == (403, "csrf-token-missing")
    assert "<p" not in page.text.split("<form")[0]


def test_messages_are_shown_on_the_next_page_only(notes_app: Zephyr) -> None:
    with TestClient(notes_app) as client:
        assert client.post("/notes", data={"title": ""}).status_code == 303
        first, second = client.get("/notes").text, client.get("/notes").text
    assert first.startswith('<p class="error">A note needs a title.</p>')
    assert second.startswith("\n<form")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ["one", "two", "three"]),
        ({"with_categories": True},
         [["message", "one"], ["warning", "two"], ["error", "three"]]),
        ({"category_filter": ["error", "warning"]}, ["two", "three"]),
        ({"category_filter": "error", "with_categories": True}, [["error", "three"]]),
    ],
)
def test_categories_and_filters(options: dict[str, Any], expected: list[Any]) -> None:
    app = Zephyr()

    @app.post("/")
    async def post() -> None:
        flash("one")
        flash("two", "warning")
        flash("three", category="error")

    @app.get("/")
    async def read() -> Any:
        first = get_flashed_messages(**options)
        # Read twice in one request: the same messages (they leave the session once).
        assert get_flashed_messages(**options) == first
        return [list(m) if isinstance(m, tuple) else m for m in first]

    with TestClient(app) as client:
        client.post("/")
        assert client.get("/").json() == expected
        assert client.get("/").json() == []


def test_reading_no_messages_leaves_the_session_cookie_alone() -> None:
    app = Zephyr()

    @app.get("/")
    async def read() -> list[str]:
        return get_flashed_messages()

    with TestClient(app) as client:
        r = client.get("/")
    assert r.json() == []
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("call", [lambda: flash("x"), get_flashed_messages])
def test_outside_a_request_they_say_so(call: Any) -> None:
    with pytest.raises(ContextError, match=r"\(\) needs a request; call it while handling one "
                                           r"\(messages are kept in the client's session\)"):
        call()
