"""Server-side components: typed props, a template, children, the tag, the global, Python,
and a component's own endpoint for partial refreshes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from markupsafe import Markup

from tests.conftest import write_tree
from zephyr import HTMLResponse, Zephyr
from zephyr.components import ComponentError, render_component
from zephyr.errors import SetupError
from zephyr.testing import TestClient

TEMPLATES = {
    "components/card.html": '<div class="card"><h2>{{ title }}</h2>{{ children }}'
                            '<small>{{ footer }}</small></div>',
    "components/counter.html": '<span id="counter-{{ name }}">{{ name }}: {{ count }}</span>',
    "components/badge.html": "<b>{{ props.label }}{% if caller %}{{ caller() }}{% endif %}</b>",
}


NO_CHILDREN = Markup("")


class Counter(msgspec.Struct, kw_only=True):
    """A struct component: its fields are the props."""

    template: ClassVar[str] = "components/counter.html"
    name: str
    count: int = 0


@dataclass
class Badge:
    label: str


@pytest.fixture
def app(tmp_path: Path) -> Zephyr:
    write_tree(tmp_path / "templates", TEMPLATES)
    app = Zephyr(root_path=tmp_path)

    @app.component("card", template="components/card.html")
    def card(title: str, footer: str = "", children: Markup = NO_CHILDREN) -> dict[str, str]:
        return {"title": title.title()}

    app.component("counter", endpoint="/components/counter")(Counter)
    app.component("badge", template="components/badge.html")(Badge)

    @app.component("hello")
    def hello(name: str) -> Markup:
        return Markup("<i>Hello, {}</i>").format(name)

    return app


def render(app: Zephyr, source: str, **context: Any) -> str:
    return app.templates.render_string(source, **context)


# -- in templates ---------------------------------------------------------------------------


def test_the_tag_passes_props_and_the_body_as_children(app: Zephyr) -> None:
    page = render(app, '{% component "card", title="a <b> title", footer=who %}'
                       "<p>{{ who }} wrote this</p>{% endcomponent %}", who="<Ada>")
    assert page == ('<div class="card"><h2>A &lt;B&gt; Title</h2><p>&lt;Ada&gt; wrote this</p>'
                    "<small>&lt;Ada&gt;</small></div>")


def test_the_body_is_also_the_callers_block(app: Zephyr) -> None:
    assert render(app, '{% component "badge", label="new" %}!{% endcomponent %}') == "<b>new!</b>"


def test_commas_between_props_are_optional(app: Zephyr) -> None:
    page = render(app, '{% component "card" title="t" footer="f" %}{% endcomponent %}')
    assert page == '<div class="card"><h2>T</h2><small>f</small></div>'


@pytest.mark.parametrize(
    ("options", "returns", "message"),
    [
        ({}, None, "component 'x' has no template, so its function must return its HTML "
                   "(a str or Markup), not a NoneType"),
        ({"template": "components/badge.html"}, ["no"],
         "component 'x' returned a list; with a template, its function returns a dict of "
         "values for the template, or None"),
        ({"template": "gone.html"}, None, "component 'x': template 'gone.html' not found; "
                                          "searched: "),
    ],
)
def test_a_component_that_renders_wrongly_says_how(app: Zephyr, options: dict[str, Any],
                                                   returns: Any, message: str) -> None:
    app.component("x", **options)(lambda: returns)
    with pytest.raises(ComponentError) as caught:
        render(app, "{{ component('x') }}")
    assert str(caught.value).startswith(message)


def test_the_global_renders_a_component_without_a_body(app: Zephyr) -> None:
    assert render(app, "{{ component('counter', name='likes', count=n) }}|"
                       "{{ component('hello', name='<you>') }}", n=3) == (
        '<span id="counter-likes">likes: 3</span>|<i>Hello, &lt;you&gt;</i>')


def test_a_component_inside_a_component(app: Zephyr) -> None:
    page = render(app, '{% component "card", title="t" %}{% component "badge", label="x" %}'
                       "{% endcomponent %}{% endcomponent %}")
    assert page == '<div class="card"><h2>T</h2><b>x</b><small></small></div>'


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ component('card') }}", "component 'card' is missing the required prop 'title'"),
        ("{{ component('counter', name='a', count='3') }}",
         "component 'counter': prop 'count': Expected `int`, got `str`"),
        ("{{ component('card', title='t', titel='x') }}",
         "component 'card' got the unknown prop 'titel' (its props: title, footer)"),
        ("{{ component('badge') }}", "component 'badge' is missing the required prop 'label'"),
        ("{{ component('nope') }}", "no component named 'nope' (components: badge, card, "
                                    "counter, hello)"),
    ],
)
def test_bad_props_name_the_component_and_the_prop(app: Zephyr, source: str,
                                                   message: str) -> None:
    with pytest.raises(ComponentError) as caught:
        render(app, source)
    assert str(caught.value) == message


# -- from Python ----------------------------------------------------------------------------


def test_render_component_answers_a_handler(app: Zephyr) -> None:
    @app.get("/card")
    async def show() -> HTMLResponse:
        return render_component("card", title="hi", footer="f")

    with TestClient(app) as client:
        r = client.get("/card")
    assert (r.status_code, r.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert r.text == '<div class="card"><h2>Hi</h2><small>f</small></div>'


# -- its own endpoint -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("?name=likes&count=7", 200, '<span id="counter-likes">likes: 7</span>'),
        ("?name=likes", 200, '<span id="counter-likes">likes: 0</span>'),
    ],
)
def test_a_component_endpoint_renders_it_from_the_query(app: Zephyr, query: str, status: int,
                                                        text: str) -> None:
    with TestClient(app) as client:
        r = client.get("/components/counter" + query)
    assert (r.status_code, r.text) == (status, text)
    assert app.url_for("component.counter", _query={"name": "x"}) == (
        "/components/counter?name=x")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?name=likes&count=many", "count", "Expected `int`, got `str`"),
        ("?count=1", "name", "a value is required"),
    ],
)
def test_a_bad_query_for_a_component_endpoint_is_a_422(app: Zephyr, query: str, field: str,
                                                       message: str) -> None:
    with TestClient(app) as client:
        r = client.get("/components/counter" + query)
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert (error["location"], error["field"], error["message"]) == ("query", field, message)


def test_a_group_component_endpoint_lives_under_the_group(tmp_path: Path) -> None:
    write_tree(tmp_path / "admin", {"stat.html": "<em>{{ label }}={{ value }}</em>"})
    app = Zephyr(root_path=tmp_path)
    admin = app.group("/admin", name="admin", template_folder="admin")

    @admin.component("stat", template="stat.html", endpoint="/stat")
    def stat(label: str, value: float) -> None:
        return None

    with TestClient(app) as client:
        r = client.get("/admin/stat?label=load&value=0.5")
    assert (r.status_code, r.text) == (200, "<em>load=0.5</em>")
    assert app.url_for("admin.component.stat") == "/admin/stat"


# -- registration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        (Badge, {}, "component 'x' is a class: give it a template"),
        (lambda *args: "", {"template": "t.html"}, "component 'x' takes *args"),
        (42, {}, "component 'x' must be a function, a msgspec Struct or a dataclass, not 42"),
    ],
)
def test_a_component_that_cannot_work_is_refused_at_registration(
    tmp_path: Path, target: Any, options: dict[str, Any], message: str
) -> None:
    app = Zephyr(root_path=tmp_path)
    with pytest.raises(SetupError, match=message.replace("*", r"\*")):
        app.component("x", **options)(target)


def test_a_component_name_is_registered_once(app: Zephyr) -> None:
    with pytest.raises(SetupError, match="component 'card' is already registered"):
        app.component("card", template="components/card.html")(Badge)


def test_components_are_refused_once_serving(app: Zephyr) -> None:
    app._go_live()
    with pytest.raises(SetupError, match="after the app has started serving"):
        app.component("late", template="x.html")(Badge)
