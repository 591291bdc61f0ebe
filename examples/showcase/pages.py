"""The HTML frame of the showcase's pages: navigation, the signed-in user, a styled body."""

from __future__ import annotations

import html

from zephyr import csp_nonce, current_app, current_user

STYLE = """body{font:16px/1.6 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;
color:#222} nav a,nav form{margin-right:1rem} nav form{display:inline} li{margin:.4rem 0}
input,textarea{display:block;margin:.3rem 0 .8rem;width:100%;font:inherit}
button{font:inherit;padding:.3rem 1rem} code{background:#f3f3f3} .error{color:#a00}"""


def page(title: str, body: str) -> str:
    """A whole page; its inline style carries the request's CSP nonce."""
    url_for = current_app.url_for
    if current_user:
        account = (f'<a href="{url_for("account")}">{html.escape(current_user.name)}</a>'
                   f'<form method="post" action="{url_for("logout")}">{csrf_field()}'
                   "<button>Log out</button></form>")
    else:
        account = f'<a href="{url_for("login")}">Log in</a>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="{csp_nonce()}">{STYLE}</style></head>
<body><nav><a href="{url_for('home')}">Home</a>
<a href="{url_for('guestbook')}">Guestbook</a>
<a href="{url_for('api.list_entries')}">JSON API</a> {account}</nav>{body}</body></html>"""


def csrf_field() -> str:
    """The hidden CSRF token field every form of the showcase carries."""
    from zephyr import csrf_token

    return f'<input type="hidden" name="csrf_token" value="{csrf_token()}">'
