"""Where a template name leads: a file inside the template folders, never outside them.

A name is a relative path of plain segments (``pages/home.html``). Anything
else (``..`` or ``.``, a backslash, a drive, a NUL, a leading ``/``, an empty
segment) is not found, and a symlink that leads out of its folder is not
followed: template names may come from the request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from jinja2 import BaseLoader, Environment, TemplateNotFound

__all__ = ["FolderLoader", "not_found_message"]


class FolderLoader(BaseLoader):
    """Loads templates from folders, searched in order (a group's before the app's)."""

    def __init__(self, folders: Sequence[str]) -> None:
        #: The folders searched, in order, as given (for messages).
        self.folders = tuple(folders)
        # Resolved once: a file counts as inside when its real path is under one of these.
        self._real = tuple(os.path.realpath(folder) for folder in self.folders)

    def get_source(self, environment: Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.find(template)
        if path is None:
            raise TemplateNotFound(template, not_found_message(template, self.folders))
        mtime = os.path.getmtime(path)
        with open(path, encoding="utf-8") as file:
            source = file.read()

        def is_current() -> bool:
            try:
                return os.path.getmtime(path) == mtime
            except OSError:
                return False

        return source, path, is_current

    def find(self, name: str) -> str | None:
        """The real path of the file ``name`` leads to, or ``None``."""
        segments = _segments(name)
        if segments is None:
            return None
        for folder in self._real:
            path = os.path.realpath(os.path.join(folder, *segments))
            # SECURITY: a symlink may point anywhere; only a file really inside the folder counts.
            if path.startswith(folder + os.sep) and os.path.isfile(path):
                return path
        return None


def _segments(name: str) -> list[str] | None:
    """The path segments of a well-formed template name, else ``None``."""
    # SECURITY: a NUL, a backslash (Windows' separator) or a leading slash never names a file
    # inside the folders; neither does a drive ("C:") nor a "." or ".." segment.
    if not name or name[0] == "/" or "\\" in name or "\x00" in name:
        return None
    segments = name.split("/")
    if ":" in segments[0] or any(s in ("", ".", "..") for s in segments):
        return None
    return segments


def not_found_message(name: str, folders: Sequence[str]) -> str:
    """Why ``name`` was not found: the folders searched, and the rule it broke if it broke one."""
    searched = ", ".join(folders) if folders else "no template folder (template_folder=None)"
    message = f"template {name!r} not found; searched: {searched}"
    if _segments(name) is None:
        message += (" (a template name is a path inside a template folder, like "
                    "'pages/home.html': no '..', '.', '\\', drive or leading '/')")
    return message
