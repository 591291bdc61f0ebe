"""The notes as pages: a list with an add form and delete buttons, enhanced by htmx.

With JavaScript, htmx posts the add form and swaps in the new list, and a delete
button sends ``DELETE /notes/<id>`` and removes its row; each answer brings the flash
message along as an out-of-band swap (the ``messages`` block of the layout). Without
it, the same forms post and redirect back to ``/notes`` (post/redirect/get), where the
flash message shows. ``request.htmx`` tells the two apart.
"""

from __future__ import annotations

import msgspec

from examples.showcase.notes import Note, NoteIn, NoteStore, Store
from zephyr import HTMLResponse, Request, Response, Zephyr, flash, htmx, redirect, render_template

FORM_ERROR = ("Please give a title (up to 100 characters); tags are up to 10 words of "
              "lowercase letters, digits and dashes.")


def newest_first(store: NoteStore) -> list[Note]:
    """Every note, the newest first."""
    return sorted(store.notes.values(), key=lambda note: note.id, reverse=True)


def install(app: Zephyr) -> None:
    """Add the notes pages (``/notes``) to ``app``; they share the notes API's store."""

    @app.get("/notes", name="notes_page", include_in_schema=False)
    async def notes_page(notes: Store) -> HTMLResponse:
        return render_template("notes.html", notes=newest_first(notes), form={})

    @app.post("/notes", name="add_note", include_in_schema=False)
    async def add_note(request: Request, notes: Store) -> Response:
        form = await request.form()
        fields = {name: str(form.get(name, "")).strip() for name in ("title", "body", "tags")}
        try:
            note = notes.add(msgspec.convert({**fields, "tags": fields["tags"].split()}, NoteIn))
        except msgspec.ValidationError:
            return refused(request, notes, fields)
        flash(f"Added “{note.title}”.")
        if request.htmx:  # the new list, and the message out of band
            return render_template("notes.html", blocks=["list", "messages"],
                                   notes=newest_first(notes))
        return redirect(app.url_for("notes_page"))

    def refused(request: Request, notes: NoteStore, fields: dict[str, str]) -> Response:
        """The form again, with what was typed and the problem: a 422."""
        if request.htmx:  # only the form, in place of the form (not of the list)
            response = render_template("notes.html", block="form", status_code=422,
                                       error=FORM_ERROR, form=fields)
            return htmx.reswap(htmx.retarget(response, "#add-note"), "outerHTML")
        return render_template("notes.html", status_code=422, error=FORM_ERROR, form=fields,
                               notes=newest_first(notes))

    @app.delete("/notes/<int:note_id>", name="delete_note_page", include_in_schema=False)
    async def delete_note_page(note_id: int, notes: Store) -> HTMLResponse:
        """htmx's delete: the row is replaced by nothing, and the message comes out of band."""
        deleted(notes, note_id)
        return render_template("notes.html", block="messages")

    @app.post("/notes/<int:note_id>/delete", name="delete_note_form", include_in_schema=False)
    async def delete_note_form(note_id: int, notes: Store) -> Response:
        """The same without JavaScript: a form can only post."""
        deleted(notes, note_id)
        return redirect(app.url_for("notes_page"))

    def deleted(notes: NoteStore, note_id: int) -> None:
        note = notes.get(note_id)  # 404 when it is gone already
        del notes.notes[note_id]
        flash(f"Deleted “{note.title}”.")
