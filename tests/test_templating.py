"""Templates: folders beside the app, rendering to responses, autoescape, streaming, fragments,
errors that name what went wrong, the cache and its invalidation, the sandbox, group folders."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from zephyr import HTMLResponse, Zephyr
from zephyr.errors import ContextError
from zephyr.templating import (
    BlockNotFoundError,
    TemplateError,
    TemplateNotFound,
    TemplateSecurityError,
    TemplateSyntaxError,
    render_template,
    render_template_string,
    stream_template,
)
from zephyr.testing import TestClient

BASE = """<title>{% block title %}Site{% endblock %}</title>
<main>{% block main %}{% endblock %}</main>"""
ROWS = """{% extends "base.html" %}
{% block title %}Rows: {{ super() }}{% endblock %}
{% block main %}<table>{% for row in rows %}{% block row scoped %}<tr><td>{{ row }}</td></tr>\
{% endblock %}{% endfor %}</table><p>{% block counter %}{{ rows|length }} rows{% endblock %}</p>\
{% endblock %}"""


def site(root: Path, files: Mapping[str, str], **settings: Any) -> Zephyr:
    """An app rooted at ``root`` whose ``templates`` folder holds ``files``."""
    write_tree(root / "templates", files)
    return Zephyr(root_path=root, **settings)


# -- folders ------------------------------------------------------------------------------


def test_the_app_is_rooted_beside_its_module_with_flask_folder_defaults() -> None:
    app = Zephyr(__name__)
    assert app.root_path == os.path.dirname(os.path.abspath(__file__))
    assert (app.template_folder, app.static_folder, app.static_url_path) == (
        "templates", "static", None)


def test_folders_are_keywords_and_a_default_name_roots_the_app_at_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = Zephyr(template_folder="views", static_folder="assets", static_url_path="/s")
    assert app.root_path == str(tmp_path)
    assert (app.template_folder, app.static_folder, app.static_url_path) == (
        "views", "assets", "/s")


def test_a_missing_default_folder_is_fine_until_a_template_is_rendered(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)

    @app.get("/json")
    async def data() -> dict[str, int]:
        return {"a": 1}

    @app.get("/page")
    async def page() -> HTMLResponse:
        return render_template("page.html")

    with TestClient(app) as client:
        assert client.get("/json").json() == {"a": 1}
        missing = client.get("/page")
    assert missing.status_code == 404
    with pytest.raises(TemplateNotFound) as caught:
        app.templates.render("page.html")
    assert str(caught.value) == (
        f"template 'page.html' not found; searched: {tmp_path / 'templates'}"
    )


def test_an_app_without_a_template_folder_still_renders_strings(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path, template_folder=None)
    assert app.templates.render_string("{{ 6 * 7 }}") == "42"
    with pytest.raises(TemplateNotFound, match=r"searched: no template folder \(template_folder"):
        app.templates.render("page.html")


# -- rendering ----------------------------------------------------------------------------


def test_render_template_is_an_html_response_with_status_and_headers(tmp_path: Path) -> None:
    app = site(tmp_path, {"hello.html": "<h1>Hello, {{ name }}</h1>"})

    @app.get("/")
    async def home() -> HTMLResponse:
        return render_template("hello.html", name="Ada")

    @app.get("/made")
    async def made() -> HTMLResponse:
        return render_template("hello.html", name="Grace", status_code=201,
                               headers={"X-Page": "hello"})

    with TestClient(app) as client:
        r, created = client.get("/"), client.get("/made")
    assert (r.status_code, r.headers["content-type"], r.text) == (
        200, "text/html; charset=utf-8", "<h1>Hello, Ada</h1>")
    assert (created.status_code, created.headers["x-page"], created.text) == (
        201, "hello", "<h1>Hello, Grace</h1>")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("t.html", "&lt;b&gt;"),
        ("t.htm", "&lt;b&gt;"),
        ("t.xml", "&lt;b&gt;"),
        ("t.svg", "&lt;b&gt;"),
        ("t.txt", "<b>"),
        ("t.md", "<b>"),
    ],
)
def test_autoescape_follows_the_file_extension(tmp_path: Path, name: str, expected: str) -> None:
    app = site(tmp_path, {name: "{{ value }}"})
    assert app.templates.render(name, value="<b>") == expected


def test_render_template_string_escapes_and_answers_html(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path)

    @app.get("/")
    async def home() -> HTMLResponse:
        return render_template_string("<p>{{ who }}</p>", who="<script>", status_code=202)

    with TestClient(app) as client:
        r = client.get("/")
    assert (r.status_code, r.text) == (202, "<p>&lt;script&gt;</p>")
    assert app.templates.render_string("{{ 1 + 2 }}") == "3"


def test_app_templates_render_outside_any_request(tmp_path: Path) -> None:
    app = site(tmp_path, {"mail.txt": "Dear {{ name }},\nwelcome."})
    assert app.templates.render("mail.txt", name="Ada") == "Dear Ada,\nwelcome."


def test_render_first_renders_the_first_name_that_exists(tmp_path: Path) -> None:
    app = site(tmp_path, {"b.html": "bee {{ x }}", "c.html": "sea"})
    assert app.templates.render_first(["a.html", "b.html", "c.html"], x=1) == "bee 1"
    assert app.templates.render_first(["a.html", "z.html"], x=1) is None


@pytest.mark.parametrize("auto_reload", [False, True])
def test_render_first_remembers_that_none_exists_unless_templates_reload(
    tmp_path: Path, auto_reload: bool
) -> None:
    app = site(tmp_path, {}, template_auto_reload=auto_reload)
    assert app.templates.render_first(["late.html"]) is None
    write_tree(tmp_path / "templates", {"late.html": "here"})
    assert app.templates.render_first(["late.html"]) == ("here" if auto_reload else None)
    app.templates.invalidate(tmp_path / "templates" / "late.html")
    assert app.templates.render_first(["late.html"]) == "here"


def test_render_template_outside_a_request_says_what_to_use() -> None:
    with pytest.raises(ContextError, match=r"render_template\(\) needs a request"):
        render_template("x.html")


def test_stream_template_sends_the_page_in_chunks(tmp_path: Path) -> None:
    app = site(tmp_path, {"long.html": "{% for i in range(n) %}<p>{{ i }} {{ pad }}</p>\n"
                                       "{% endfor %}"})

    @app.get("/long")
    async def long_page() -> Any:
        return stream_template("long.html", n=3000, pad="x" * 40)

    expected = app.templates.render("long.html", n=3000, pad="x" * 40)
    with TestClient(app) as client, client.stream("GET", "/long") as r:
        chunks = list(r.iter_bytes())
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert b"".join(chunks).decode() == expected
    assert len(chunks) > 5  # ~150 KB in chunks of 16 KiB, not one piece


def test_a_streamed_page_may_ask_for_the_nonce_the_session_and_flashes(tmp_path: Path) -> None:
    # The headers leave before the body renders: what the page reads is settled first.
    app = site(tmp_path, {"s.html": "<script nonce='{{ csp_nonce() }}'></script>"
                                    "{{ get_flashed_messages() }}{{ csrf_token()|length > 0 }}"})

    @app.get("/s")
    async def streamed() -> Any:
        return stream_template("s.html")

    with TestClient(app) as client:
        r = client.get("/s")
    nonce = r.text.split("'")[1]
    assert f"'nonce-{nonce}'" in r.headers["content-security-policy"]
    assert r.text.endswith("[]True")
    assert r.headers["cache-control"] == "no-store"
    assert "csrf" in r.cookies  # the CSRF secret made for the token was saved


# -- fragments ----------------------------------------------------------------------------


@pytest.fixture
def rows_app(tmp_path: Path) -> Zephyr:
    app = site(tmp_path, {"base.html": BASE, "rows.html": ROWS})

    @app.get("/rows")
    async def rows(block: str | None = None, oob: bool = False) -> HTMLResponse:
        data = ["a", "b"]
        if oob:
            return render_template("rows.html", blocks=["counter", "title"], rows=data)
        return render_template("rows.html", block=block, rows=data, row="z")

    return app


def test_a_whole_page_renders_through_its_parent(rows_app: Zephyr) -> None:
    with TestClient(rows_app) as client:
        text = client.get("/rows").text
    assert text == ("<title>Rows: Site</title>\n<main><table><tr><td>a</td></tr><tr><td>b</td>"
                    "</tr></table><p>2 rows</p></main>")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?block=row", "<tr><td>z</td></tr>"),
        ("?block=counter", "2 rows"),
        ("?block=title", "Rows: Site"),  # super() reaches the parent's block
        ("?oob=1", "2 rowsRows: Site"),
    ],
)
def test_blocks_render_alone_for_partial_updates(rows_app: Zephyr, query: str,
                                                 expected: str) -> None:
    with TestClient(rows_app) as client:
        r = client.get("/rows" + query)
    assert (r.status_code, r.text) == (200, expected)


def test_a_block_only_the_parent_defines_renders_too(tmp_path: Path) -> None:
    app = site(tmp_path, {"base.html": BASE + "{% block foot %}© {{ year }}{% endblock %}",
                          "page.html": '{% extends "base.html" %}{% block main %}x{% endblock %}'})
    assert app.templates.render_blocks("page.html", ["foot", "main"], year=2025) == "© 2025x"


def test_a_missing_block_names_the_template_and_its_blocks(rows_app: Zephyr) -> None:
    with pytest.raises(BlockNotFoundError) as caught:
        rows_app.templates.render_blocks("rows.html", ["rwo"])
    assert str(caught.value) == (
        "template 'rows.html' has no block 'rwo'; its blocks (with those it extends): "
        "counter, main, row, title"
    )


def test_block_and_blocks_together_are_refused(rows_app: Zephyr) -> None:
    @rows_app.get("/both")
    async def both() -> HTMLResponse:
        return render_template("rows.html", block="row", blocks=["counter"])

    with TestClient(rows_app) as client:
        r = client.get("/both")
    assert r.status_code == 500
    with pytest.raises(TemplateError, match="give one of block=, blocks= or htmx_block="):
        render_template("rows.html", block="row", blocks=["counter"])


HTMX_VARY = "HX-Request, HX-Boosted, HX-History-Restore-Request"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "<title>Rows: Site</title>"),                                   # the whole page
        ({"HX-Request": "true"}, "<tr><td>z</td></tr>"),                     # the fragment
        ({"HX-Request": "true", "HX-Boosted": "true"}, "<title>Rows: Site</title>"),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, "<title>Rows: Site</title>"),
    ],
    ids=["browser", "htmx", "boosted", "history-restore"],
)
def test_htmx_block_renders_the_fragment_for_htmx_and_the_page_otherwise(
    rows_app: Zephyr, headers: dict[str, str], expected: str
) -> None:
    @rows_app.get("/either")
    async def either() -> HTMLResponse:
        return render_template("rows.html", htmx_block="row", rows=["a"], row="z",
                               headers={"Vary": "Accept-Language"})

    with TestClient(rows_app) as client:
        r = client.get("/either", headers=headers)
    assert r.status_code == 200
    assert r.text.startswith(expected)
    assert r.headers["vary"] == "Accept-Language, " + HTMX_VARY


def test_htmx_csrf_headers_is_a_template_global(tmp_path: Path) -> None:
    app = site(tmp_path, {"page.html": "<body {{ htmx_csrf_headers() }}></body>"})

    @app.get("/")
    async def page() -> HTMLResponse:
        return render_template("page.html")

    @app.post("/like")
    async def like() -> str:
        return "liked"

    with TestClient(app, same_origin=False) as client:
        text = client.get("/").text
        token = re.fullmatch(r"""<body hx-headers='\{"X-CSRF-Token":"([^"]+)"\}'></body>""", text)
        assert token
        assert client.post("/like", headers={"X-CSRF-Token": token.group(1)}).text == "liked"


# -- errors -------------------------------------------------------------------------------


def test_a_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    app = site(tmp_path, {"broken.html": "<p>\n{% if x %}\n{{ x }\n{% endif %}"})
    with pytest.raises(TemplateSyntaxError) as caught:
        app.templates.render("broken.html")
    path = tmp_path / "templates" / "broken.html"
    assert str(caught.value).startswith(f"{path}, line 3: unexpected '}}'")
    assert (caught.value.filename, caught.value.lineno) == (str(path), 3)


def test_a_syntax_error_in_an_included_template_names_that_file(tmp_path: Path) -> None:
    app = site(tmp_path, {"page.html": "{% include 'part.html' %}", "part.html": "{{ 1 +"})
    with pytest.raises(TemplateSyntaxError, match=r"part\.html, line 1: "):
        app.templates.render("page.html")


def test_a_syntax_error_in_a_string_names_the_string(tmp_path: Path) -> None:
    with pytest.raises(TemplateSyntaxError, match=r"^<string>, line 1: unexpected 'end of "):
        Zephyr(root_path=tmp_path).templates.render_string("{{ 1 +")


def test_a_missing_include_is_a_template_error_naming_both(tmp_path: Path) -> None:
    app = site(tmp_path, {"page.html": "{% include 'gone.html' %}"})
    with pytest.raises(TemplateError) as caught:
        app.templates.render("page.html")
    assert not isinstance(caught.value, TemplateNotFound)
    assert str(caught.value) == (
        f"template 'page.html' uses 'gone.html', which was not found; searched: "
        f"{tmp_path / 'templates'}"
    )


@pytest.mark.parametrize(("debug", "detail"), [(False, False), (True, True)])
def test_a_missing_page_is_a_404_whose_body_names_nothing_outside_debug(
    tmp_path: Path, debug: bool, detail: bool
) -> None:
    app = site(tmp_path, {}, debug=debug)

    @app.get("/pages/<name>")
    async def page(name: str) -> HTMLResponse:
        return render_template(f"{name}.html")

    with TestClient(app) as client:
        r = client.get("/pages/about")
    assert r.status_code == 404
    assert ("about.html" in r.text, str(tmp_path) in r.text) == (detail, detail)


TRAVERSALS = [
    "../secret.txt",
    "..\\secret.txt",
    "sub/../../secret.txt",
    "/etc/passwd",
    "%2e%2e/secret.txt",
    "..%2fsecret.txt",
    "page.html\x00.txt",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "\\\\server\\share\\x.html",
    "./page.html",
    "",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_names_never_reach_files_outside_the_folders(tmp_path: Path, name: str) -> None:
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    app = site(tmp_path / "app", {"page.html": "ok", "sub/x.html": "x"})
    with pytest.raises(TemplateNotFound) as caught:
        app.templates.render(name)
    assert str(caught.value).startswith(f"template {name!r} not found")


def test_a_symlink_leaving_the_folder_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    app = site(tmp_path / "app", {"inside.html": "in"})
    folder = tmp_path / "app" / "templates"
    (folder / "leak.html").symlink_to(tmp_path / "secret.txt")
    (folder / "outside").symlink_to(tmp_path, target_is_directory=True)
    (folder / "alias.html").symlink_to(folder / "inside.html")
    for name in ("leak.html", "outside/secret.txt"):
        with pytest.raises(TemplateNotFound):
            app.templates.render(name)
    assert app.templates.render("alias.html") == "in"  # a link that stays inside is fine


def test_a_traversal_name_from_the_query_string_is_a_404(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    app = site(tmp_path / "app", {"page.html": "ok"})

    @app.get("/show")
    async def show(name: str) -> HTMLResponse:
        return render_template(name)

    with TestClient(app) as client:
        for name in TRAVERSALS:
            r = client.get("/show", params={"name": name})
            assert r.status_code == 404, name
            assert "TOP SECRET" not in r.text


# -- the cache ----------------------------------------------------------------------------


def test_templates_are_compiled_once_and_invalidated_on_demand(tmp_path: Path) -> None:
    app = site(tmp_path, {"a.html": "one", "b.html": "bee"})
    folder = tmp_path / "templates"
    assert (app.templates.render("a.html"), app.templates.render("b.html")) == ("one", "bee")
    (folder / "a.html").write_text("two")
    (folder / "b.html").write_text("BEE")
    assert app.templates.render("a.html") == "one"  # cached: no file check outside debug
    app.templates.invalidate(folder / "a.html")
    assert (app.templates.render("a.html"), app.templates.render("b.html")) == ("two", "bee")
    app.templates.invalidate()
    assert app.templates.render("b.html") == "BEE"


def test_in_debug_a_changed_file_is_picked_up_without_invalidation(tmp_path: Path) -> None:
    app = site(tmp_path, {"a.html": "one"}, debug=True)
    assert app.templates.render("a.html") == "one"
    path = tmp_path / "templates" / "a.html"
    path.write_text("two")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    assert app.templates.render("a.html") == "two"


def test_a_string_template_is_compiled_once(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    templates = Zephyr(root_path=tmp_path).templates
    compiled: list[str] = []
    compile_source = templates.environment.compile

    def counting(source: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile_source(source, *args, **kwargs)

    monkeypatch.setattr(templates.environment, "compile", counting)
    assert [templates.render_string("{{ x }}!", x=x) for x in (1, 2)] == ["1!", "2!"]
    assert compiled == ["{{ x }}!"]


# -- the sandbox --------------------------------------------------------------------------


def test_the_sandbox_refuses_unsafe_attributes(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path, template_sandbox=True)
    with pytest.raises(TemplateSecurityError, match="access to attribute '__class__'"):
        app.templates.render_string("{{ ''.__class__.__mro__ }}")
    assert app.templates.render_string("{{ x|upper }}", x="ok") == "OK"


def test_the_sandbox_leaves_request_session_and_g_out(tmp_path: Path) -> None:
    app = Zephyr(root_path=tmp_path, template_sandbox=True)

    @app.get("/")
    async def home() -> HTMLResponse:
        return render_template_string(
            "{{ request is defined }} {{ session is defined }} {{ g is defined }} "
            "{{ config.DEBUG }} {{ url_for('home') }}"
        )

    with TestClient(app) as client:
        assert client.get("/").text == "False False False False /"


def test_without_the_sandbox_python_attributes_are_reachable(tmp_path: Path) -> None:
    # The reason for TEMPLATE_SANDBOX: never render untrusted source without it.
    app = Zephyr(root_path=tmp_path)
    assert app.templates.render_string("{{ ''.__class__.__name__ }}") == "str"


# -- group folders ------------------------------------------------------------------------


@pytest.fixture
def grouped(tmp_path: Path) -> Zephyr:
    write_tree(tmp_path / "admin_templates", {
        "base.html": "[admin] {% block main %}{% endblock %}",
        "users.html": '{% extends "base.html" %}{% block main %}users{% endblock %}',
    })
    app = site(tmp_path, {
        "base.html": "[site] {% block main %}{% endblock %}",
        "home.html": '{% extends "base.html" %}{% block main %}home{% endblock %}',
    })
    admin = app.group("/admin", template_folder="admin_templates")
    reports = admin.group("/reports")

    @app.get("/<name>")
    async def page(name: str) -> HTMLResponse:
        return render_template(f"{name}.html")

    @admin.get("/<name>")
    async def admin_page(name: str) -> HTMLResponse:
        return render_template(f"{name}.html")

    @reports.get("/<name>")
    async def report(name: str) -> HTMLResponse:
        return render_template(f"{name}.html")

    @reports.get("/missing/<name>")
    async def missing(name: str) -> str:
        try:
            render_template(f"{name}.html")
        except TemplateNotFound as exc:
            return str(exc)
        return "found"

    return app


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/home", 200, "[site] home"),
        ("/users", 404, None),  # the group's templates are its own
        ("/admin/users", 200, "[admin] users"),
        ("/admin/home", 200, "[admin] home"),  # the app's templates, with the group's base
        ("/admin/reports/users", 200, "[admin] users"),  # a subgroup searches its parents'
    ],
)
def test_a_group_folder_is_searched_first_for_the_group_handlers(
    grouped: Zephyr, path: str, status: int, text: str | None
) -> None:
    with TestClient(grouped) as client:
        r = client.get(path)
    assert r.status_code == status
    if text is not None:
        assert r.text == text


def test_a_group_handler_hears_of_every_folder_searched(grouped: Zephyr,
                                                        tmp_path: Path) -> None:
    with TestClient(grouped) as client:
        text = client.get("/admin/reports/missing/nope").text
    assert text == (f"template 'nope.html' not found; searched: {tmp_path / 'admin_templates'}, "
                    f"{tmp_path / 'templates'}")


# -- when Jinja2 loads --------------------------------------------------------------------

PROBE = """
import sys, zephyr
app = zephyr.Zephyr(root_path=sys.argv[1])
app._go_live()
print("jinja2" in sys.modules)
"""


@pytest.mark.parametrize(("folder", "loaded"), [(False, "False"), (True, "True")])
def test_jinja2_loads_at_startup_only_for_an_app_with_templates(
    tmp_path: Path, folder: bool, loaded: str
) -> None:
    if folder:
        (tmp_path / "templates").mkdir()
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True,
                            text=True, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, loaded), result.stderr
