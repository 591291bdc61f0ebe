"""The debug page: the exception chain with each frame's source and locals, the request, the
route, the settings, template errors; secrets masked; loopback clients only; and a page that
can never fail the request a second time."""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from zephyr import Request, Zephyr, render_template
from zephyr.testing import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
SECRET = "debug-secret-key-5c1e-77b0-9a3f-d2e8-4b61-0f9c"
OLD_SECRET = "old-secret-key-0d3a-11c2-8e47-b5f0-62a9-3c18"
THIS_FILE = os.path.relpath(__file__)


def debug_app(**settings: Any) -> Zephyr:
    return Zephyr(debug=True, secret_key=SECRET, secret_key_fallbacks=[OLD_SECRET], **settings)


def chained_app() -> Zephyr:
    """``/orders/<id>`` fails with a RuntimeError raised from a LookupError, itself raised
    while a ValueError was handled."""
    app = debug_app()

    def parse(raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise LookupError(f"no order {raw!r}")  # noqa: B904 - the context is the point

    @app.get("/orders/<order_id>", name="order")
    async def order(order_id: str) -> None:
        note = "<b>escaped</b>"  # noqa: F841 - a local the page shows
        password = "hunter2" + "-do-not-show"  # noqa: F841
        payload = {"api_key": "dict-value" + "-do-not-show", "user": "ada"}  # noqa: F841
        quoted = f"the key is {SECRET}!"  # noqa: F841
        try:
            parse(order_id)
        except LookupError as exc:
            raise RuntimeError(f"the order page failed (key {SECRET})") from exc

    return app


def fetch(app: Zephyr, target: str, *, client: tuple[str, int] = ("127.0.0.1", 50000),
          **headers: str) -> Any:
    with TestClient(app, client=client) as test_client:
        return test_client.get(target, headers={**HTML, **headers})


def rows_of(html: str) -> dict[str, str]:
    """The rows of the tables in ``html``: first cell -> second cell."""
    return dict(re.findall(r"<tr><th>([^<]*)</th><td>([^<]*)</td>", html))


def section(page: str, name: str) -> str:
    """The HTML of the page's ``<section id=name>``."""
    found = re.search(rf"<section[^>]* id={name}>(.*?)</section>", page, re.S)
    assert found, f"no section {name!r}"
    return found.group(1)


def test_the_page_shows_the_exception_chain_each_with_its_traceback() -> None:
    response = fetch(chained_app(), "/orders/abc")
    page = response.text
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<header><p class=kind>RuntimeError</p><h1>the order page failed (key ********)</h1>" \
        in page
    headings = re.findall(r"<h3><span class=num>#(\d)</span> (\w+): ", page)
    assert headings == [("1", "RuntimeError"), ("2", "LookupError"), ("3", "ValueError")]
    chain = section(page, "traceback")
    first, second, third = re.split(r"<div class=exc id=exc-\d>", chain)[1:]
    assert "in <code>order</code>" in first
    assert "<p class=rel>#1 was raised from this one (<code>raise … from</code>).</p>" in second
    assert "in <code>parse</code>" in second
    assert "<p class=rel>#2 was raised while this one was being handled.</p>" in third
    assert "in <code>parse</code>" in third
    assert "in <code>order</code>" not in third


def test_app_frames_are_open_with_their_source_and_library_frames_collapsed() -> None:
    page = fetch(chained_app(), "/orders/abc").text
    frames = re.findall(r'<details class="frame (\w+)"( open)?><summary><code>([^<]+)</code>',
                        page)
    assert ("app", " open", THIS_FILE) in frames
    assert ("library", "", THIS_FILE) not in frames
    assert any(kind == "library" and not is_open and "zephyr" in file
               for kind, is_open, file in frames)
    # The failing line is marked; the lines around it are shown, escaped.
    assert re.search(r"<span class=ln>\d+</span><mark> +raise RuntimeError\(f&quot;the order "
                     r"page failed \(key \{SECRET\}\)&quot;\) from exc</mark>", page)
    assert "note = &quot;&lt;b&gt;escaped&lt;/b&gt;&quot;" in page


def test_locals_are_escaped_and_secrets_masked_by_name_and_by_value() -> None:
    page = fetch(chained_app(), "/orders/abc").text
    assert "<tr><th>note</th><td>&#x27;&lt;b&gt;escaped&lt;/b&gt;&#x27;</td></tr>" in page
    assert "<tr><th>password</th><td>********</td></tr>" in page
    assert ("<tr><th>payload</th><td>{&#x27;api_key&#x27;: ********, &#x27;user&#x27;: "
            "&#x27;ada&#x27;}</td></tr>") in page
    assert "<tr><th>quoted</th><td>&#x27;the key is ********!&#x27;</td></tr>" in page
    assert "<tr><th>order_id</th><td>&#x27;abc&#x27;</td></tr>" in page
    for leak in (SECRET, "hunter2-do-not-show", "dict-value-do-not-show"):
        assert leak not in page


def test_long_values_are_cut_and_repeated_structures_stay_finite() -> None:
    app = debug_app()

    @app.get("/big")
    async def big() -> None:
        text = "y" * 200_000  # noqa: F841
        numbers = list(range(100_000))  # noqa: F841
        nested: list[Any] = []
        nested.append(nested)
        raise ValueError("big")

    page = fetch(app, "/big").text
    assert len(page) < 200_000
    assert re.search(r"<tr><th>text</th><td>&#x27;y{20,}\.\.\.y{20,}&#x27;</td></tr>", page)
    assert re.search(r"<tr><th>numbers</th><td>\[0, 1, 2, .*, \.\.\.\]</td></tr>", page)
    assert "<tr><th>nested</th><td>[[[[...]]]]</td></tr>" in page


def test_the_members_of_an_exception_group_are_part_of_the_chain() -> None:
    app = debug_app()

    @app.get("/group")
    async def group() -> None:
        raise ExceptionGroup("two failures", [ValueError("first"), KeyError("second")])

    page = fetch(app, "/group").text
    assert re.findall(r"<h3><span class=num>#(\d)</span> (\w+): ", page) == [
        ("1", "ExceptionGroup"), ("2", "ValueError"), ("3", "KeyError")]
    assert page.count("<p class=rel>One of the exceptions of group #1.</p>") == 2


def test_a_deep_recursion_shows_the_outermost_and_the_innermost_frames() -> None:
    app = debug_app()

    def down(depth: int) -> None:
        if depth == 0:
            raise ValueError("the bottom")
        down(depth - 1)

    @app.get("/deep")
    async def deep() -> None:
        down(150)

    page = fetch(app, "/deep").text
    assert page.count('<details class="frame') == 60
    left_out = re.search(r"<p class=omitted>… (\d+) frames left out …</p>", page)
    assert left_out is not None
    assert int(left_out.group(1)) > 90
    first = re.search(r"<summary><code>[^<]+</code>, line \d+, in <code>(\w+)</code>", page)
    assert first is not None
    assert first.group(1) == "down"
    assert "<tr><th>depth</th><td>0</td></tr>" in page  # the innermost call is kept


def test_the_request_is_shown_with_credentials_masked() -> None:
    page = fetch(chained_app(), "/orders/abc?q=<i>1</i>&token=query-do-not-show",
                 Cookie="session=cookie-do-not-show", Authorization="Bearer auth-do-not-show",
                 **{"X-Note": "<script>x</script>"}).text
    assert rows_of(section(page, "request")).items() >= {
        "method": "GET", "path": "/orders/abc", "client": "127.0.0.1:50000",
        "q": "&lt;i&gt;1&lt;/i&gt;", "token": "********", "cookie": "********",
        "authorization": "********", "x-note": "&lt;script&gt;x&lt;/script&gt;",
    }.items()
    for leak in ("query-do-not-show", "cookie-do-not-show", "auth-do-not-show"):
        assert leak not in page


def test_the_matched_route_is_shown_with_its_handler() -> None:
    page = fetch(chained_app(), "/orders/abc").text
    route = rows_of(section(page, "route"))
    assert route.items() >= {
        "name": "order", "path": "/orders/&lt;order_id&gt;", "methods": "GET",
        "handler": "tests.test_dev_debug_page.chained_app.&lt;locals&gt;.order",
        "order_id": "&#x27;abc&#x27;",
    }.items()
    assert re.fullmatch(rf"{re.escape(THIS_FILE)}:\d+", route["defined at"])


def test_an_error_before_routing_says_no_route_matched() -> None:
    app = debug_app()

    @app.middleware
    async def broken(request: Request, call_next: Any) -> Any:
        raise RuntimeError("before routing")

    page = fetch(app, "/anything").text
    assert "No route matched: the error happened before routing." in section(page, "route")


def test_the_settings_are_shown_with_the_secret_ones_masked() -> None:
    page = fetch(chained_app(), "/orders/abc").text
    settings = section(page, "settings")
    assert rows_of(settings).items() >= {
        "DEBUG": "True", "SECRET_KEY": "********", "SECRET_KEY_FALLBACKS": "********",
        "REDIS_URL": "********", "MAX_JSON_SIZE": "1048576"}.items()
    assert "<tr><th>SECRET_KEY</th><td>********</td><td>keyword argument</td></tr>" in settings
    assert "<tr><th>REDIS_URL</th><td>********</td><td>default</td></tr>" in settings
    assert OLD_SECRET not in page


def test_a_secret_setting_is_masked_in_the_message_headers_and_source_too() -> None:
    app = debug_app(redis_url="redis://:redis-pw-not-shown@cache.internal:6379/0")

    @app.get("/leak")
    async def leak() -> None:
        raise RuntimeError(f"cannot reach cache (password redis-pw-not-shown, old {OLD_SECRET})")

    page = fetch(app, "/leak", **{"X-Echo": SECRET}).text
    assert "cannot reach cache (password ********, old ********)" in page
    assert "<tr><th>x-echo</th><td>********</td></tr>" in page
    for leak in (SECRET, OLD_SECRET, "redis-pw-not-shown"):
        assert leak not in page


# -- templates ------------------------------------------------------------------------------


def template_app(tmp_path: Path, files: dict[str, str]) -> Zephyr:
    write_tree(tmp_path / "templates", files)
    app = debug_app(root_path=tmp_path)

    @app.get("/page/<name>")
    async def page(name: str) -> Any:
        return render_template(name, zero=0, title="<Orders>")

    return app


def test_a_template_syntax_error_shows_the_template_lines_around_it(tmp_path: Path) -> None:
    app = template_app(tmp_path, {"broken.html": "<h1>{{ title }}</h1>\n<ul>\n{% if %}\n</ul>\n"})
    page = fetch(app, "/page/broken.html").text
    template = section(page, "template")
    assert "<h2>Template error in <code>broken.html</code>, line 3</h2>" in template
    assert "<span class=ln>2</span>&lt;ul&gt;\n<span class=ln>3</span><mark>{% if %}</mark>" \
        in template
    assert "<span class=ln>1</span>&lt;h1&gt;{{ title }}&lt;/h1&gt;" in template


def test_an_exception_inside_a_template_shows_its_template_frame(tmp_path: Path) -> None:
    app = template_app(tmp_path, {
        "base.html": "<main>{% block main %}{% endblock %}</main>\n",
        "orders.html": "{% extends 'base.html' %}\n{% block main %}\n<p>{{ title }}</p>\n"
                       "<p>{{ 1 // zero }}</p>\n{% endblock %}\n",
    })
    page = fetch(app, "/page/orders.html").text
    path = os.path.realpath(tmp_path / "templates" / "orders.html")
    # Shown relative to the working directory when inside it.
    shown_name = os.path.relpath(path) if path.startswith(os.getcwd() + os.sep) else path
    template = section(page, "template")
    assert f"<h2>Template error in <code>{html.escape(shown_name)}</code>, line 4</h2>" \
        in template
    assert "<span class=ln>4</span><mark>&lt;p&gt;{{ 1 // zero }}&lt;/p&gt;</mark>" in template
    assert "ZeroDivisionError: integer division or modulo by zero" in template
    frame = re.search(r'<details class="frame template" open><summary><span class=badge>'
                      r"template</span> <code>([^<]+)</code>, line 4, in <code>block "
                      r"&#x27;main&#x27;</code></summary>(.*?)</details>", page, re.S)
    assert frame is not None
    assert frame.group(1) == html.escape(shown_name)
    assert "<tr><th>zero</th><td>0</td></tr>" in frame.group(2)
    assert "<tr><th>title</th><td>&#x27;&lt;Orders&gt;&#x27;</td></tr>" in frame.group(2)
    # What every template sees (functions, request, config...) is left out.
    assert not re.search(r"<th>(request|config|url_for|range)</th>", frame.group(2))


# -- never failing a second time ----------------------------------------------------------


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class BadStrError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str exploded")


def test_a_local_whose_repr_raises_is_shown_as_such() -> None:
    app = debug_app()

    @app.get("/bad")
    async def bad() -> None:
        thing = BadRepr()  # noqa: F841
        raise BadStrError()

    response = fetch(app, "/bad")
    assert response.status_code == 500
    assert re.search(r"<tr><th>thing</th><td>&lt;BadRepr instance at 0x[0-9a-f]+&gt;</td></tr>",
                     response.text)
    assert "<h1>&lt;exception str() failed&gt;</h1>" in response.text


def test_a_huge_number_and_huge_bytes_are_shown_cut() -> None:
    app = debug_app()

    @app.get("/huge")
    async def huge() -> None:
        number = 7 ** 20_000  # noqa: F841 - more digits than int -> str converts
        blob = b"\x00" * 5_000_000  # noqa: F841
        raise ValueError("huge")

    response = fetch(app, "/huge")
    assert response.status_code == 500
    assert "<tr><th>number</th><td>&lt;int (repr failed: ValueError)&gt;</td></tr>" \
        in response.text
    assert re.search(r"<tr><th>blob</th><td>b&#x27;(\\x00){10,}\.\.\.&#x27;</td></tr>",
                     response.text)
    assert len(response.text) < 100_000


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path: Path) -> None:
    path = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.py")  # Latin-1: a surrogate in str
    source = b"def explode():\n    raise ValueError('from a latin-1 file name')\n"
    Path(path).write_bytes(source)
    namespace: dict[str, Any] = {}
    exec(compile(source, path, "exec"), namespace)  # noqa: S102
    app = debug_app()

    @app.get("/latin")
    async def latin() -> None:
        namespace["explode"]()

    for accept in (HTML, {"Accept": "application/json"}):
        with TestClient(app) as client:
            response = client.get("/latin", headers=accept)
        assert response.status_code == 500
        assert "caf\\udce9.py" in response.text.replace("\\\\", "\\")
    assert "raise ValueError(&#x27;from a latin-1 file name&#x27;)" in fetch(app, "/latin").text


def test_a_page_that_fails_to_render_falls_back_to_a_plain_text_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from zephyr.dev import _debug_html

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RecursionError("the page itself broke")

    monkeypatch.setattr(_debug_html, "render_page", broken)
    with caplog.at_level(logging.ERROR, logger="zephyr.error"):
        response = fetch(chained_app(), "/orders/abc")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    text = response.text
    assert text.startswith("500 Internal Server Error (request id ")
    assert "The debug page failed (RecursionError: the page itself broke)" in text
    assert "Traceback (most recent call last):" in text
    assert "RuntimeError: the order page failed (key ********)" in text
    assert "The above exception was the direct cause of the following exception:" in text
    assert SECRET not in text
    assert any(r.getMessage().startswith("the debug page failed") for r in caplog.records)


# -- JSON clients ---------------------------------------------------------------------------


def test_json_clients_get_the_traceback_and_the_chain() -> None:
    with TestClient(chained_app()) as client:
        response = client.get("/orders/abc")
    body = response.json()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert body["detail"] == "RuntimeError: the order page failed (key ********)"
    assert body["traceback"][-1] == "RuntimeError: the order page failed (key ********)\n"
    assert [(e["number"], e["type"], e["relation"], e["of"]) for e in body["chain"]] == [
        (1, "RuntimeError", None, None), (2, "LookupError", "cause", 1),
        (3, "ValueError", "context", 2)]
    assert body["chain"][1]["message"] == "no order 'abc'"
    assert {"file": THIS_FILE, "function": "parse", "kind": "app"}.items() <= \
        body["chain"][1]["frames"][0].items()
    assert SECRET not in json.dumps(body)


# -- loopback clients only ------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_a_client_on_this_machine_gets_the_debug_page(address: str) -> None:
    response = fetch(chained_app(), "/orders/abc", client=(address, 5000))
    assert "<p class=kind>RuntimeError</p>" in response.text


@pytest.mark.parametrize(("address", "headers", "reason"), [
    ("10.0.0.5", {}, "the client 10.0.0.5 is not on this machine"),
    ("2001:db8::1", {}, "the client 2001:db8::1 is not on this machine"),
    ("testclient", {}, "the client address 'testclient' is not an IP address"),
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"},
     "the request came through a proxy (X-Forwarded-For), which hides the real client"),
    ("127.0.0.1", {"Forwarded": "for=203.0.113.7"},
     "the request came through a proxy (Forwarded), which hides the real client"),
    ("127.0.0.1", {"X-Real-IP": "203.0.113.7"},
     "the request came through a proxy (X-Real-IP), which hides the real client"),
])
def test_any_other_client_gets_the_plain_500_page_and_the_log_says_why(
    caplog: pytest.LogCaptureFixture, address: str, headers: dict[str, str], reason: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="zephyr.error"):
        response = fetch(chained_app(), "/orders/abc", client=(address, 5000),
                         **{"X-Request-ID": "req-7", **headers})
    assert response.status_code == 500
    assert "<h1><span>500</span> Internal Server Error</h1>" in response.text
    for leak in ("RuntimeError", "order page", "Traceback", "SECRET_KEY"):
        assert leak not in response.text
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "zephyr.error" and r.levelno == logging.WARNING]
    assert warnings == [f"debug page not shown for request id req-7: {reason}; the plain 500 "
                        "page was sent (the debug page is for clients on this machine only)"]


def test_a_trusted_proxy_does_not_make_its_client_local() -> None:
    app = chained_app()
    app.config["TRUSTED_PROXIES"] = ["127.0.0.1"]
    for forwarded_for in ("203.0.113.7", "127.0.0.1"):
        response = fetch(app, "/orders/abc", **{"X-Forwarded-For": forwarded_for})
        assert "<h1><span>500</span> Internal Server Error</h1>" in response.text


def test_what_a_request_sent_is_shown_to_clients_on_this_machine_only() -> None:
    app = debug_app()
    for address, shown in (("127.0.0.1", True), ("192.0.2.1", False)):
        response = fetch(app, "/", client=(address, 5000), Host="evil.example")
        assert response.status_code == 400
        assert ("evil.example" in response.text) == shown


def test_the_page_is_self_contained_with_a_nonced_style() -> None:
    response = fetch(chained_app(), "/orders/abc")
    page = response.text
    nonces = set(re.findall(r"'nonce-([A-Za-z0-9_-]+)'",
                            response.headers["content-security-policy"]))
    assert [f'<style nonce="{nonce}">' for nonce in nonces] == re.findall(r"<style[^>]*>", page)
    assert not re.search(r"<(script|link|img)\b|src=|https?://", page)
    assert "DEBUG is on" in section(page, "about")
    assert sys.version.split()[0] in section(page, "about")
