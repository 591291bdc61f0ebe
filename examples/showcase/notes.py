"""A typed notes API: validated bodies and queries, a dependency, response models.

Every route here shows up in the OpenAPI document (``/openapi.json``), in
Swagger UI (``/docs``) and in ReDoc (``/redoc``). Scripts call it without a CSRF
token (``curl -X POST -H 'Content-Type: application/json' -d '{"title": "hi"}'
http://127.0.0.1:8000/api/notes``): a request with no cookies and no browser
headers is no browser, so the CSRF check lets it through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

from zephyr import Depends, Query, Request, Zephyr, abort

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern="^[a-z0-9-]+$")]


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """What a client sends to create or replace a note."""

    title: Title
    body: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    tags: Annotated[list[Tag], msgspec.Meta(max_length=10)] = []


class Note(msgspec.Struct):
    """A stored note."""

    id: int
    title: str
    body: str
    tags: list[str]
    created: datetime


class NoteStore:
    """Notes in memory (a database comes with its own release)."""

    def __init__(self) -> None:
        self.notes: dict[int, Note] = {}
        self.next_id = 1

    def add(self, data: NoteIn) -> Note:
        note = Note(self.next_id, data.title, data.body, list(data.tags), datetime.now(UTC))
        self.notes[note.id] = note
        self.next_id += 1
        return note

    def get(self, note_id: int) -> Note:
        note = self.notes.get(note_id)
        if note is None:
            abort(404, f"there is no note {note_id}")
        return note


async def store(request: Request) -> NoteStore:
    """The dependency that hands handlers the app's note store."""
    notes: NoteStore = request.app.state.notes
    return notes


Store = Annotated[NoteStore, Depends(store)]
WELCOME_TITLE = "Try htmx"
WELCOME_BODY = "Add a note with the form, or delete this one: the page does not reload."


def install(app: Zephyr) -> None:
    """Add the notes API under ``/api/notes`` (tagged "notes" in the docs)."""

    @app.on_startup
    def seed_notes() -> None:  # each start (each test client) begins with one note
        app.state.notes = NoteStore()
        app.state.notes.add(NoteIn(WELCOME_TITLE, WELCOME_BODY, ["htmx", "demo"]))

    notes = app.group("/api/notes", name="notes")

    @notes.get("", name="list")
    async def list_notes(
        notes: Store,
        tag: Annotated[str | None, Query(description="Only notes with this tag")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[Note]:
        """List notes, newest first.

        Filter by ``tag`` and cap the number with ``limit`` (1 to 100).
        """
        found = [n for n in notes.notes.values() if tag is None or tag in n.tags]
        return sorted(found, key=lambda n: n.id, reverse=True)[:limit]

    @notes.post("", name="create", status_code=201)
    async def create_note(note: NoteIn, notes: Store) -> Note:
        """Create a note."""
        return notes.add(note)

    @notes.get("/{note_id:int}", name="get")
    async def get_note(note_id: int, notes: Store) -> Note:
        """Get one note by its id."""
        return notes.get(note_id)

    @notes.put("/{note_id:int}", name="replace")
    async def replace_note(note_id: int, note: NoteIn, notes: Store) -> Note:
        """Replace a note's title, body and tags."""
        old = notes.get(note_id)
        new = Note(old.id, note.title, note.body, list(note.tags), old.created)
        notes.notes[note_id] = new
        return new

    @notes.delete("/{note_id:int}", name="delete", status_code=204)
    async def delete_note(note_id: int, notes: Store) -> None:
        """Delete a note."""
        notes.get(note_id)
        del notes.notes[note_id]
