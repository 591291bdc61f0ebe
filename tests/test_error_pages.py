"""Zephyr's error pages: the built-in page of each status, the app's error templates (lookup
order, context, a broken one), and request input never shown in an error body."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import jinja2
import pytest

from tests.conftest import write_tree
from tests.test_error_handlers import hostile_app
from zephyr import HTTPException, Request, Zephyr
from zephyr.security import BearerAuth, IsAuthenticated, static_tokens
from zephyr.testing import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
MARK = "zmarkz"
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


def error_app(root: Path | None = None, **settings: Any) -> Zephyr:
    """An app with a route for each way to an error status (and ``/`` named ``home``)."""
    app = hostile_app(**settings) if root is None else hostile_app(root_path=root, **settings)

    @app.get("/")
    async def home() -> str:
        return "home"

    @app.post("/small", csrf=False, max_body_size=8)
    async def small(request: Request) -> Any:
        return await request.json()

    @app.get("/private", auth=[BearerAuth(static_tokens({}))], permissions=[IsAuthenticated()])
    async def private() -> str:
        return "secret"

    @app.get("/raise/<int:code>")
    async def raise_status(code: int) -> None:
        raise HTTPException(code)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"database password is {MARK}")

    return app


class Case(NamedTuple):
    """A request that ends in ``status``, and the general message of its page."""

    status: int
    title: str
    message: str
    target: str
    method: str = "GET"
    headers: dict[str, str] = {}  # noqa: RUF012 - never changed
    body: bytes = b""

    def send(self, client: TestClient, accept: dict[str, str],
             **headers: str) -> httpx.Response:
        return client.request(self.method, self.target, content=self.body,
                              headers={**accept, **self.headers, **headers})


STATUSES = [pytest.param(case, id=str(case.status)) for case in [
    Case(400, "Bad Request", "The request was malformed, so it could not be handled.",
         "/query?q=%ff"),
    Case(401, "Unauthorized", "You need to log in to see this page.", "/private"),
    Case(403, "Forbidden", "You are not allowed to see this page.", "/raise/403"),
    Case(404, "Not Found", "The page you asked for does not exist.", "/nowhere"),
    Case(405, "Method Not Allowed", "This page does not accept that kind of request.", "/query",
         method="DELETE"),
    Case(413, "Content Too Large", "What you sent is larger than this site accepts.", "/small",
         method="POST", headers={"Content-Type": "application/json"},
         body=b'{"much": "too long"}'),
    Case(415, "Unsupported Media Type", "What you sent is in a format this page does not "
         "accept.", "/json", method="POST", headers={"Content-Type": "text/plain"}, body=b"x"),
    Case(422, "Unprocessable Content", "Some of the values you sent are not valid.",
         "/page?page=ten"),
    Case(429, "Too Many Requests", "You sent too many requests; wait a moment and try again.",
         "/raise/429"),
    Case(500, "Internal Server Error", "The server failed to handle this request.", "/boom"),
    Case(503, "Service Unavailable", "The site is unavailable for a moment; try again later.",
         "/raise/503"),
]]


@pytest.mark.parametrize("case", STATUSES)
def test_each_status_has_a_built_in_page_for_browsers(case: Case) -> None:
    with TestClient(error_app()) as client:
        response = case.send(client, HTML)
    page = response.text
    assert response.status_code == case.status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f"<title>{case.status} {case.title}</title>" in page
    assert (f"<h1><span>{case.status}</span> {case.title}</h1>"
            f"<p class=lead>{case.message}</p>") in page
    assert '<a href="/">Go to the home page</a>' in page
    # The page's style carries the nonce the Content-Security-Policy names.
    [nonce] = set(NONCE.findall(response.headers["content-security-policy"]))
    assert f'<style nonce="{nonce}">' in page
    assert "<script" not in page


@pytest.mark.parametrize("case", STATUSES)
def test_each_status_stays_problem_json_for_api_clients(tmp_path: Path, case: Case) -> None:
    # Even an app with error templates answers API clients with problem+json.
    write_tree(tmp_path / "templates", {"errors/4xx.html": "mine", "errors/5xx.html": "mine"})
    with TestClient(error_app(tmp_path)) as client:
        response = case.send(client, JSON)
    assert response.status_code == case.status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["title"], problem["type"]) == (
        case.status, case.title, "about:blank")
    assert problem["instance"].startswith("urn:zephyr:request:")


@pytest.mark.parametrize("case", STATUSES)
@pytest.mark.parametrize("accept", [HTML, JSON], ids=["html", "json"])
@pytest.mark.parametrize("templates", [False, True], ids=["built-in", "templates"])
def test_no_error_body_shows_what_the_request_sent(
    tmp_path: Path, case: Case, accept: dict[str, str], templates: bool
) -> None:
    if templates:
        write_tree(tmp_path / "templates", {
            "errors/4xx.html": "{{ status }} {{ title }}: {{ message }} {{ detail }}",
            "errors/5xx.html": "{{ status }} {{ title }}: {{ message }} ({{ request_id }})",
        })
    separator = "&" if "?" in case.target else "?"
    marked = case._replace(target=f"{case.target}{separator}m={MARK}")
    with TestClient(error_app(tmp_path)) as client:
        response = marked.send(client, accept, **{
            "User-Agent": MARK, "X-Mark": f"<b>{MARK}</b>", "Referer": f"http://localhost/{MARK}"})
    assert response.status_code == case.status
    assert MARK not in response.text


@pytest.mark.parametrize("accept", [HTML, JSON], ids=["html", "json"])
@pytest.mark.parametrize(("status", "headers", "target"), [
    (400, {"Host": f"{MARK}.example"}, "/"),
    (404, {}, f"/{MARK}/<i>x</i>"),
    (404, {}, f"/nowhere?{MARK}=1"),
])
def test_the_host_path_and_query_never_reach_a_built_in_page(
    accept: dict[str, str], status: int, headers: dict[str, str], target: str
) -> None:
    with TestClient(error_app()) as client:
        response = client.get(target, headers={**accept, **headers})
    assert response.status_code == status
    assert MARK not in response.text


def test_the_home_link_follows_the_root_path() -> None:
    with TestClient(error_app(), root_path="/shop") as client:
        response = client.get("/shop/nowhere", headers=HTML)
    assert response.status_code == 404
    assert '<a href="/shop/">Go to the home page</a>' in response.text


def test_a_detail_and_the_fields_of_a_422_are_shown_but_never_the_value() -> None:
    app = error_app()

    @app.get("/members")
    async def members() -> None:
        raise HTTPException(403, "members only")

    with TestClient(app) as client:
        forbidden = client.get("/members", headers=HTML)
        invalid = client.get(f"/page?page={MARK}", headers=HTML)
    assert "<p class=lead>You are not allowed to see this page.</p><p>members only</p>" in (
        forbidden.text)
    assert "<li><code>page</code> (query): Expected `int`, got `str`</li>" in invalid.text
    assert MARK not in invalid.text


def test_only_a_5xx_page_shows_the_request_id() -> None:
    with TestClient(error_app()) as client:
        failed = client.get("/boom", headers={**HTML, "X-Request-ID": "req-5"})
        missing = client.get("/nowhere", headers={**HTML, "X-Request-ID": "req-4"})
    assert "<p class=id>Request id: req-5.</p>" in failed.text
    assert "req-4" not in missing.text


# -- the app's error templates ------------------------------------------------------------------

TEMPLATES = {
    "errors/404.html": "exact {{ status }}",
    "errors/500.html": "exact {{ status }}",
    "errors/4xx.html": "class {{ status }}",
    "errors/5xx.html": "class {{ status }}",
}


@pytest.mark.parametrize(("files", "target", "status", "expected"), [
    (TEMPLATES, "/nowhere", 404, "exact 404"),
    (TEMPLATES, "/raise/403", 403, "class 403"),
    (TEMPLATES, "/boom", 500, "exact 500"),
    (TEMPLATES, "/raise/503", 503, "class 503"),
    ({"errors/4xx.html": "class {{ status }}"}, "/nowhere", 404, "class 404"),
    ({"errors/404.html": "exact {{ status }}"}, "/raise/403", 403, None),
    ({"errors/404.html": "exact {{ status }}"}, "/boom", 500, None),
    ({"errors/5xx.html": "class {{ status }}"}, "/boom", 500, "class 500"),
    ({"errors/4xx.txt": "not html", "error/404.html": "misspelt"}, "/nowhere", 404, None),
])
def test_an_error_template_for_the_status_wins_then_its_class_then_the_built_in_page(
    tmp_path: Path, files: dict[str, str], target: str, status: int, expected: str | None
) -> None:
    write_tree(tmp_path / "templates", files)
    with TestClient(error_app(tmp_path)) as client:
        response = client.get(target, headers=HTML)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    if expected is None:
        assert f"<h1><span>{status}</span>" in response.text  # Zephyr's own page
    else:
        assert response.text == expected


def test_an_error_template_gets_the_error_and_the_usual_template_context(
    tmp_path: Path
) -> None:
    write_tree(tmp_path / "templates", {
        "base.html": "<style nonce=\"{{ csp_nonce() }}\"></style>{% block body %}{% endblock %}",
        "errors/5xx.html": (
            "{% extends 'base.html' %}{% block body %}{{ site }}|{{ status }}|{{ title }}|"
            "{{ message }}|{{ request_id }}|{{ detail or '' }}|{{ url_for('home') }}{% endblock %}"
        ),
        "errors/4xx.html": "{% for e in errors %}{{ e.field }}={{ e.message }}"
                           "{{ e.value }};{% endfor %}",
    })
    app = error_app(tmp_path)

    @app.context_processor
    def site() -> dict[str, str]:
        return {"site": "Acme"}

    with TestClient(app) as client:
        failed = client.get("/boom", headers={**HTML, "X-Request-ID": "req-9"})
        invalid = client.get(f"/page?page={MARK}", headers=HTML)
    [nonce] = set(NONCE.findall(failed.headers["content-security-policy"]))
    assert failed.status_code == 500
    assert failed.text == (
        f'<style nonce="{nonce}"></style>Acme|500|Internal Server Error|'
        "The server failed to handle this request.|req-9||/"
    )
    assert failed.headers["x-request-id"] == "req-9"
    # A template sees each invalid field and its message, never the value sent.
    assert (invalid.status_code, invalid.text) == (422, "page=Expected `int`, got `str`;")


def test_a_group_template_folder_has_error_pages_for_its_routes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"templates/errors/404.html": "app",
                          "admin/errors/404.html": "admin"})
    app = Zephyr(root_path=tmp_path)
    admin = app.group("/admin", template_folder=str(tmp_path / "admin"))

    @admin.get("/users/<int:uid>")
    async def user(uid: int) -> None:
        raise HTTPException(404)

    with TestClient(app) as client:
        assert client.get("/admin/users/1", headers=HTML).text == "admin"
        assert client.get("/nowhere", headers=HTML).text == "app"


BROKEN = [
    pytest.param("{% if %}", id="syntax-error"),
    pytest.param("{{ 1 // 0 }}", id="raises-inside"),
    pytest.param("{{ missing_variable }}", id="strict-undefined"),
    pytest.param("{% extends 'no-such-base.html' %}", id="missing-parent"),
    pytest.param("{{ url_for('no-such-route') }}", id="url-for-fails"),
]


@pytest.mark.parametrize("source", BROKEN)
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_broken_error_template_falls_back_to_the_built_in_page_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str, debug: bool
) -> None:
    write_tree(tmp_path / "templates", {"errors/404.html": source})
    app = error_app(tmp_path, debug=debug)
    app.templates.environment.undefined = jinja2.StrictUndefined
    with caplog.at_level(logging.ERROR, logger="zephyr.error"), TestClient(app) as client:
        responses = [client.get("/nowhere", headers=HTML) for _ in range(3)]
    for response in responses:
        assert response.status_code == 404
        assert ("<h1><span>404</span> Not Found</h1><p class=lead>The page you asked for does "
                "not exist.</p>") in response.text
    records = [r for r in caplog.records if r.name == "zephyr.error"]
    assert len(records) == 1
    assert records[0].getMessage().startswith(
        "the error page template for 404 failed to render; Zephyr's own page was sent instead"
    )
    assert records[0].exc_info is not None


def test_an_app_without_templates_never_builds_them_for_an_error(tmp_path: Path) -> None:
    app = error_app(tmp_path)
    with TestClient(app) as client:
        assert client.get("/nowhere", headers=HTML).status_code == 404
    assert app._templates.built is None
