"""What every template sees: request, session, g, url_for, static_url, csrf_token(), csp_nonce(),
flashed messages and config; the app's context processors, filters, tests and globals; tojson."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from zephyr import HTMLResponse, Request, Zephyr, g
from zephyr.errors import SetupError, URLBuildError
from zephyr.templating import TemplateError, render_template, render_template_string
from zephyr.testing import TestClient


def page_app(tmp_path: Path, source: str, **settings: Any) -> Zephyr:
    """An app whose ``GET /`` renders ``source`` (with ``g.who = "Ada"`` set before)."""
    app = Zephyr(root_path=tmp_path, **settings)

    @app.get("/")
    async def home() -> HTMLResponse:
        g.who = "Ada"
        return render_template_string(source)

    return app


def get(app: Zephyr, path: str = "/", **options: Any) -> Any:
    with TestClient(app, **options) as client:
        return client.get(path)


# -- the request's own values ---------------------------------------------------------------


def test_request_g_and_url_for_are_there(tmp_path: Path) -> None:
    app = page_app(tmp_path, "{{ request.method }} {{ request.path }} {{ g.who }} "
                             "{{ url_for('home') }} {{ url_for('user', id=3, _query={'a': 1}) }}")

    @app.get("/users/<int:id>")
    async def user(id: int) -> None: ...

    assert get(app).text == "GET / Ada / /users/3?a=1"


def test_a_plain_def_handler_and_an_error_handler_render_too(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)

    @app.get("/sync")
    def sync_page() -> HTMLResponse:  # runs in the thread pool
        g.who = "Ada"
        return render_template_string("{{ request.path }} {{ g.who }}")

    @app.errorhandler(404)
    async def not_found(exc: Exception) -> HTMLResponse:
        return render_template_string("<h1>No {{ request.path }}</h1>", status_code=404)

    with TestClient(app) as client:
        assert client.get("/sync").text == "/sync Ada"
        missing = client.get("/nowhere")
    assert (missing.status_code, missing.text) == (404, "<h1>No /nowhere</h1>")


def test_url_for_includes_the_mount_point_and_can_be_external(tmp_path: Path) -> None:
    app = page_app(tmp_path, "{{ url_for('home') }} {{ url_for('home', _external=True) }}")
    assert get(app, root_path="/site").text == "/site/ http://localhost/site/"


def test_url_for_outside_a_request_uses_the_app(tmp_path: Path) -> None:
    app = page_app(tmp_path, "")
    assert app.templates.render_string("{{ url_for('home') }}") == "/"


def test_config_shows_settings_but_never_secrets(tmp_path: Path) -> None:
    app = page_app(tmp_path, "{{ config.DEBUG }} {{ config.SESSION_COOKIE_NAME }} "
                             "{{ config.SECRET_KEY is defined }} {{ config.REDIS_URL is defined }} "
                             "{{ 'SECRET_KEY_FALLBACKS' in config }}")
    assert get(app).text == "False session False False False"


def test_static_url_without_static_files_says_so(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)
    with pytest.raises(URLBuildError, match=r"static_url: no static folder named 'static' "
                                            r"\(folders: none\); create the app's 'static'"):
        app.templates.render_string("{{ static_url('app.css') }}")


def test_static_url_in_a_template_is_the_hashed_url_the_app_serves(tmp_path: Path) -> None:
    write_tree(tmp_path / "static", {"app.css": "body { color: #222 }"})
    app = Zephyr(root_path=tmp_path)

    @app.get("/")
    async def page() -> HTMLResponse:
        return render_template_string("{{ static_url('app.css') }}")

    with TestClient(app) as client:
        url = client.get("/").text
        assert re.fullmatch(r"/static/app\.[0-9a-f]{8,}\.css", url)
        css = client.get(url)
    assert (css.status_code, css.text) == (200, "body { color: #222 }")
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_static_url_uses_the_builder_the_app_hands_in(tmp_path: Path) -> None:
    from zephyr.templating import TemplateConfig, Templates

    templates = Templates(TemplateConfig(folder=None), url_for=lambda name, **_: name,
                          static_url=lambda filename: f"/static/{filename}?v=1")
    assert templates.render_string("{{ static_url('app.css') }}") == "/static/app.css?v=1"


# -- lazy: the session and the nonce only when asked for ------------------------------------


def test_a_page_that_never_reads_the_session_stays_cacheable(tmp_path: Path) -> None:
    r = get(page_app(tmp_path, "<p>{{ g.who }}</p>"))
    assert r.text == "<p>Ada</p>"
    assert "cache-control" not in r.headers
    assert "vary" not in r.headers
    assert "nonce-" not in r.headers["content-security-policy"]


def test_reading_the_session_in_a_page_makes_it_private(tmp_path: Path) -> None:
    r = get(page_app(tmp_path, "{{ session.get('user', 'nobody') }} {{ 'x' in session }} "
                               "{{ session|length }}"))
    assert r.text == "nobody False 0"
    assert (r.headers["cache-control"], r.headers["vary"]) == ("no-store", "Cookie")


def test_csp_nonce_in_a_page_is_the_nonce_of_its_policy(tmp_path: Path) -> None:
    r = get(page_app(tmp_path, "<script nonce='{{ csp_nonce() }}'></script>"))
    nonce = re.fullmatch(r"<script nonce='([^']+)'></script>", r.text)
    assert nonce
    assert f"script-src 'self' 'nonce-{nonce.group(1)}'" in r.headers["content-security-policy"]


# -- every session backend ------------------------------------------------------------------

FORM = """<p>{{ session.get('name', 'stranger') }}</p>
<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<style nonce="{{ csp_nonce() }}"></style></form>"""


def test_session_csrf_token_and_nonce_work_on_every_backend(
    tmp_path: Path, session_settings: dict[str, Any]
) -> None:
    # A Redis session loads before the handler, so the page reads it synchronously too.
    app = Zephyr(root_path=tmp_path, **session_settings)

    @app.get("/")
    async def form() -> HTMLResponse:
        return render_template_string(FORM)

    @app.post("/")
    async def sign(request: Request) -> str:
        request.session["name"] = "Ada"
        return "saved"

    with TestClient(app, same_origin=False) as client:
        first = client.get("/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', first.text)
        assert token
        assert client.post("/", data={"csrf_token": token.group(1)}).status_code == 200
        again = client.get("/")
    assert "<p>stranger</p>" in first.text
    assert "<p>Ada</p>" in again.text  # the session is read from the backend
    nonce = re.search(r'<style nonce="([^"]+)">', again.text)
    assert nonce
    assert f"'nonce-{nonce.group(1)}'" in again.headers["content-security-policy"]


# -- context processors -------------------------------------------------------------------


def test_context_processors_add_to_every_page_and_render_arguments_win(tmp_path: Path) -> None:
    app = page_app(tmp_path, "{{ site }} {{ year }} {{ user }}")

    @app.context_processor
    def site_info() -> dict[str, Any]:
        return {"site": "Zephyr", "year": 2025, "user": "anonymous"}

    @app.get("/me")
    async def me() -> HTMLResponse:
        return render_template_string("{{ site }} {{ user }}", user="Ada")

    with TestClient(app) as client:
        assert client.get("/").text == "Zephyr 2025 anonymous"
        assert client.get("/me").text == "Zephyr Ada"


def test_a_group_context_processor_runs_for_its_own_handlers_only(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)
    admin = app.group("/admin")

    @app.context_processor
    def everywhere() -> dict[str, str]:
        return {"area": "site", "app": "yes"}

    @admin.context_processor
    def admin_only() -> dict[str, str]:
        return {"area": "admin"}

    source = "{{ area }} {{ app }}"

    @app.get("/")
    async def home() -> HTMLResponse:
        return render_template_string(source)

    @admin.get("/")
    async def panel() -> HTMLResponse:
        return render_template_string(source)

    with TestClient(app) as client:
        assert (client.get("/").text, client.get("/admin/").text) == ("site yes", "admin yes")


def test_context_processors_do_not_run_outside_a_request(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)

    @app.context_processor
    def needs_a_request() -> dict[str, str]:
        return {"path": str(g.who)}

    assert app.templates.render_string("{{ path is defined }}") == "False"


def test_a_context_processor_returning_no_mapping_is_named(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)

    @app.context_processor
    def broken() -> Any:
        return ["not", "a", "dict"]

    @app.get("/")
    async def home() -> str:
        try:
            render_template_string("x")
        except TemplateError as exc:
            return str(exc)
        return "rendered"

    assert get(app).text.endswith("broken returned a list; a context processor returns a dict")


# -- filters, tests and globals -----------------------------------------------------------


def test_filters_tests_and_globals_by_decorator(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)
    admin = app.group("/admin")

    @app.template_filter()
    def shout(text: str) -> str:
        return text.upper() + "!"

    @app.template_filter("rev")
    def reverse(text: str) -> str:
        return text[::-1]

    @app.template_test()
    def even(number: int) -> bool:
        return number % 2 == 0

    @admin.template_global("site")
    def site_name() -> str:
        return "Zephyr"

    source = "{{ 'hi'|shout }} {{ 'abc'|rev }} {{ 4 is even }} {{ 3 is even }} {{ site() }}"
    assert app.templates.render_string(source) == "HI! cba True False Zephyr"


def test_a_filter_registered_after_the_templates_were_first_used_counts(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)
    assert app.templates.render_string("{{ 'x'|upper }}") == "X"  # built at import time

    @app.template_filter()
    def twice(text: str) -> str:
        return text * 2

    @app.template_global("answer")
    def forty_two() -> int:
        return 42

    assert app.templates.render_string("{{ 'x'|twice }} {{ answer() }}") == "xx 42"


def test_a_filter_decorator_without_parentheses_is_refused_with_the_fix(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)

    def shout(text: str) -> str:
        return text.upper()

    with pytest.raises(SetupError, match=r"write @app\.template_filter\(\) with parentheses"):
        app.template_filter(shout)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "register",
    [
        lambda app: app.context_processor(dict),
        lambda app: app.template_filter()(str),
        lambda app: app.template_test()(bool),
        lambda app: app.template_global()(len),
    ],
    ids=["context_processor", "template_filter", "template_test", "template_global"],
)
def test_template_registrations_are_refused_once_serving(tmp_path: Path, register: Any) -> None:
    app = Zephyr(root_path=tmp_path)
    app._go_live()
    with pytest.raises(SetupError, match="after the app has started serving"):
        register(app)


# -- tojson -------------------------------------------------------------------------------


def test_tojson_is_safe_inside_a_script_and_an_attribute(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)
    value = {"b": "</script><script>alert('x')</script>", "a": [1, 2.5, None, True], "amp": "&"}
    page = app.templates.render_string(
        "<script>const data = {{ value|tojson }};</script><div data-x='{{ value|tojson }}'>",
        value=value,
    )
    encoded = page.split("const data = ")[1].split(";</script>")[0]
    for forbidden in ("<", ">", "&", "'"):
        assert forbidden not in encoded
    assert json.loads(encoded) == value
    attribute = page.split("data-x='")[1].rsplit("'>", 1)[0]
    assert json.loads(html.unescape(attribute)) == value


def test_tojson_encodes_structs_and_dataclasses_and_can_indent(tmp_path: Path) -> None:
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: int
        y: int

    templates = Zephyr(root_path=tmp_path).templates
    assert templates.render_string("{{ p|tojson }}", p=Point(1, 2)) == '{"x":1,"y":2}'
    assert templates.render_string("{{ [1]|tojson(indent=2) }}") == "[\n  1\n]"


def test_tojson_of_something_unencodable_is_a_template_error(tmp_path: Path) -> None:
    templates = Zephyr(root_path=tmp_path).templates
    with pytest.raises(TemplateError, match="tojson cannot encode object"):
        templates.render_string("{{ x|tojson }}", x=object())


# -- the folder and the processors together ------------------------------------------------


def test_a_layout_reads_processors_and_the_request(tmp_path: Path) -> None:
    write_tree(tmp_path / "templates", {
        "layout.html": "<nav>{{ nav }} {{ request.path }}</nav>{% block body %}{% endblock %}",
        "page.html": '{% extends "layout.html" %}{% block body %}{{ text }}{% endblock %}',
    })
    app = Zephyr(root_path=tmp_path)

    @app.context_processor
    def navigation() -> dict[str, str]:
        return {"nav": "Home"}

    @app.get("/about")
    async def about() -> HTMLResponse:
        return render_template("page.html", text="About us")

    assert get(app, "/about").text == "<nav>Home /about</nav>About us"
