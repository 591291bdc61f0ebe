"""Flash messages: one-time notices kept in the session until a page shows them (as Flask's).

``flash("Saved.")`` before a redirect; the next page calls
``get_flashed_messages()`` (templates have it too), which takes the messages
out of the session: they are shown once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from zephyr.context import current_request

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = ["flash", "get_flashed_messages"]

#: The session key the messages wait under (a leading underscore keeps it apart from yours).
FLASHES_KEY = "_flashes"
# The messages this request took out of the session, kept in its scope: a page may read them
# in several places (the layout and the page), and they leave the session only once.
_TAKEN = "zephyr.flashes"


def flash(message: str, category: str = "message") -> None:
    """Keep ``message`` in the session for the next page that shows messages.

    ``category`` (``"message"``, ``"error"``, ``"info"``...) lets a page style
    or filter them.
    """
    session = _request("flash").session
    flashes = list(session.get(FLASHES_KEY, ()))
    flashes.append([category, message])
    session[FLASHES_KEY] = flashes


def get_flashed_messages(with_categories: bool = False,
                         category_filter: str | Iterable[str] = ()) -> list[Any]:
    """The messages flashed for this client, taken out of the session (so shown once).

    ``with_categories=True`` gives ``(category, message)`` pairs;
    ``category_filter`` keeps only the messages of those categories. Within one
    request every call returns the same messages.
    """
    request = _request("get_flashed_messages")
    flashes: list[tuple[str, str]] | None = request.scope.get(_TAKEN)
    if flashes is None:
        session = request.session
        # Only a session that holds messages changes (and has its cookie written again).
        taken = session.pop(FLASHES_KEY) if FLASHES_KEY in session else ()
        flashes = request.scope[_TAKEN] = [(category, text) for category, text in taken]
    if category_filter:
        wanted = {category_filter} if isinstance(category_filter, str) else set(category_filter)
        flashes = [pair for pair in flashes if pair[0] in wanted]
    if with_categories:
        return flashes
    return [text for _, text in flashes]


def _request(what: str) -> Request:
    return current_request(f"{what}()", " (messages are kept in the client's session)")
