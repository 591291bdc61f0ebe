r"""The Zephyr showcase: a home page, a JSON API, a guestbook form and a login.

Run it with ``make run`` and open http://127.0.0.1:8000 (``make run PORT=8001``
for another port). Debug mode is on for this demo: error pages show tracebacks,
and /docs and /redoc are served. To run it as in production, turn debug off in
the environment (which overrides a settings mapping) and give it the secret key
that an app outside debug mode refuses to start without::

    ZEPHYR_DEBUG=0 \
    ZEPHYR_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    make run
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from examples.showcase import accounts, notes
from examples.showcase.pages import csrf_field, page
from zephyr import (
    MultiDict,
    Query,
    RedirectResponse,
    Request,
    Response,
    UploadFile,
    Zephyr,
    abort,
)
from zephyr.openapi import OpenAPIConfig

app = Zephyr(__name__, settings={"DEBUG": True})
app.openapi_config = OpenAPIConfig(
    title="Zephyr showcase", version="1.0.0",
    description="The guestbook and notes APIs of the showcase app.",
)
notes.install(app)
accounts.install(app)


@dataclass
class Entry:
    """One guestbook entry."""

    id: int
    name: str
    message: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


@app.on_startup
def seed_guestbook() -> None:
    app.state.entries = [Entry(1, "Zephyr", "Welcome! Leave a message below.")]


@app.get("/", include_in_schema=False)
async def home() -> str:
    return page(
        "Zephyr showcase",
        f"""<h1>Zephyr</h1>
<p>A fast ASGI framework with Flask's ergonomics. This app shows the basics:</p>
<ul>
<li>this page: a handler returning a <code>str</code> becomes HTML;</li>
<li><a href="{app.url_for('api.list_entries')}">/api/entries</a>: a <code>list</code> of
dataclasses becomes JSON;</li>
<li><a href="{app.url_for('api.get_entry', entry_id=1)}">/api/entries/1</a>: a typed path
parameter (<code>/api/entries/&lt;int:entry_id&gt;</code>);</li>
<li><a href="{app.url_for('guestbook')}">the guestbook</a>: a form posted back to the app,
with a CSRF token;</li>
<li><a href="{app.url_for('login')}">log in</a> as the demo user: an argon2-hashed password,
a rate-limited login that renews the session, and <a href="/api/me">/api/me</a> for the
signed-in user;</li>
<li><a href="/docs">/docs</a> and <a href="/redoc">/redoc</a>: the typed notes API
(<code>/api/notes</code>) and the others, from the generated OpenAPI document.</li>
</ul>""",
    )


api = app.group("/api", name="api")


@api.get("/entries", name="list_entries")
async def list_entries(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[Entry]:
    """The newest entries first; ``?limit=`` (1 to 100) caps how many."""
    entries: list[Entry] = app.state.entries
    return sorted(entries, key=lambda e: e.id, reverse=True)[:limit]


@api.get("/entries/<int:entry_id>")
async def get_entry(entry_id: int) -> Entry:
    entry: Entry | None = next((e for e in app.state.entries if e.id == entry_id), None)
    if entry is None:
        abort(404, f"there is no entry {entry_id}")
    return entry


@app.get("/guestbook", include_in_schema=False)
async def guestbook() -> str:
    items = "".join(
        f"<li><strong>{html.escape(e.name)}</strong>: {html.escape(e.message)}</li>"
        for e in app.state.entries
    )
    form = f"""<form method="post" action="{app.url_for('sign_guestbook')}">{csrf_field()}
<label>Name <input name="name" required maxlength="40"></label>
<label>Message <textarea name="message" required maxlength="500"></textarea></label>
<button>Sign</button></form>"""
    return page("Guestbook", f"<h1>Guestbook</h1><ul>{items}</ul>{form}")


def _text(form: MultiDict[str | UploadFile], name: str) -> str:
    """A text field without surrounding blanks ("" if missing or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@app.post("/guestbook", include_in_schema=False)
async def sign_guestbook(request: Request) -> Response | tuple[str, int]:
    form = await request.form()
    name, message = _text(form, "name"), _text(form, "message")
    if not name or not message or len(name) > 40 or len(message) > 500:
        back = app.url_for("guestbook")
        return page("Guestbook", "<p>Please give a name (up to 40 characters) and a "
                     f"message (up to 500). <a href='{back}'>Back</a></p>"), 400
    entries: list[Entry] = app.state.entries
    entries.append(Entry(max((e.id for e in entries), default=0) + 1, name, message))
    # 303 See Other: the browser follows with a GET, so a reload does not post again.
    return RedirectResponse(app.url_for("guestbook"), status_code=303)
