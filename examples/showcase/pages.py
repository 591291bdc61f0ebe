"""What every page of the showcase shares: the stylesheet its layout (templates/base.html) inlines.

The pages themselves are Jinja2 templates in ``templates/``; the style goes in
with the CSP nonce of each response.
"""

from __future__ import annotations

from markupsafe import Markup

from zephyr import Zephyr

# Our own CSS (no user input): safe to inline as it is.
STYLE = Markup("""\
body{font:16px/1.6 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;
color:#222} nav a,nav form{margin-right:1rem} nav form{display:inline} li{margin:.4rem 0}
input,textarea{display:block;margin:.3rem 0 .8rem;width:100%;font:inherit}
button{font:inherit;padding:.3rem 1rem} code{background:#f3f3f3} .error{color:#a00}""")


def install(app: Zephyr) -> None:
    """Give every page of ``app`` the stylesheet."""

    @app.context_processor
    def stylesheet() -> dict[str, Markup]:
        return {"style": STYLE}
