r"""The Zephyr showcase: notes with htmx, a guestbook, components, a login and JSON APIs.

Run it with ``make run`` and open http://127.0.0.1:8000 (``make run PORT=8001``
for another port). Debug mode is on for this demo: error pages show tracebacks,
and /docs and /redoc are served. The pages are Jinja2 templates in
``templates/`` and the stylesheet, the script and htmx (2.0.11, from the npm
package ``htmx.org``, 0BSD licence) are in ``static/``, both beside this module;
README.md in this folder says what is where. To run it as in production, turn
debug off in the environment (which overrides a settings mapping) and give it the
secret key that an app outside debug mode refuses to start without::

    ZEPHYR_DEBUG=0 \
    ZEPHYR_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    make run
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from examples.showcase import accounts, notes, notes_pages, widgets
from zephyr import (
    HTMLResponse,
    MultiDict,
    Query,
    RedirectResponse,
    Request,
    UploadFile,
    Zephyr,
    abort,
    flash,
    render_template,
)
from zephyr.openapi import OpenAPIConfig

app = Zephyr(__name__, settings={"DEBUG": True, "COMPRESSION": True})
app.openapi_config = OpenAPIConfig(
    title="Zephyr showcase", version="1.0.0",
    description="The guestbook and notes APIs of the showcase app.",
)
widgets.install(app)
notes.install(app)
notes_pages.install(app)
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
async def home() -> HTMLResponse:
    return render_template("home.html")


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
async def guestbook() -> HTMLResponse:
    return render_template("guestbook.html", entries=app.state.entries)


def _text(form: MultiDict[str | UploadFile], name: str) -> str:
    """A text field without surrounding blanks ("" if missing or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@app.post("/guestbook", include_in_schema=False)
async def sign_guestbook(request: Request) -> HTMLResponse:
    form = await request.form()
    name, message = _text(form, "name"), _text(form, "message")
    entries: list[Entry] = app.state.entries
    if not name or not message or len(name) > 40 or len(message) > 500:
        return render_template(
            "guestbook.html", entries=entries, status_code=400,
            error="Please give a name (up to 40 characters) and a message (up to 500).",
        )
    entries.append(Entry(max((e.id for e in entries), default=0) + 1, name, message))
    flash(f"Thank you for signing, {name}!")  # shown by the next page, after the redirect
    # 303 See Other: the browser follows with a GET, so a reload does not post again.
    return RedirectResponse(app.url_for("guestbook"), status_code=303)
