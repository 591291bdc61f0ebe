"""Components: a card, a badge and a counter, registered on the app and shown on /components.

The card is a function with a template and a body (``children``); the badge a
function that returns its own HTML; the counter a msgspec Struct with an endpoint
of its own (``/components/counter``), which its buttons ask (htmx) for its next state.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec
from markupsafe import Markup

from zephyr import HTMLResponse, Zephyr, render_template

Tone = Literal["neutral", "info", "success", "warning"]
NO_CHILDREN = Markup("")


def install(app: Zephyr) -> None:
    """Register the components on ``app`` and add the page that shows them."""

    @app.component("card", template="components/card.html")
    def card(title: str, href: str = "", footer: str = "",
             children: Markup = NO_CHILDREN) -> None:
        """A titled box; what ``{% component "card" %}`` encloses is its body."""

    @app.component("badge")
    def badge(text: str, tone: Tone = "neutral") -> Markup:
        """A short label; ``tone`` colours it."""
        return Markup('<span class="badge badge-{}">{}</span>').format(tone, text)

    @app.component("counter", endpoint="/components/counter")
    class Counter(msgspec.Struct, kw_only=True):
        """A number with buttons; its state travels in the URL of its endpoint."""

        template: ClassVar[str] = "components/counter.html"
        name: str
        count: int = 0

    @app.get("/components", name="components_page", include_in_schema=False)
    async def components_page() -> HTMLResponse:
        return render_template("components.html")
