"""One static folder as an index: which files may be served, their types, siblings and hashes.

The index is built once, when the app starts: a walk that keeps only regular
files inside the folder (no dotfiles, no symlink leading out), each with its
media type, its precompressed ``.br``/``.gz`` siblings and the hash of its
content (the manifest of hashed names). A request is served from the index
alone; only in debug mode is the disk looked at again, so that new and changed
files show up without a restart.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Iterator
from typing import Any

__all__ = ["FolderIndex", "StaticFile", "build_manifest", "hashed_name", "safe_name"]

#: The hex digits of the content hash in a hashed name: ``app.3f2a9c1e.css``.
HASH_LENGTH = 8
#: Precompressed siblings by content coding, in the server's order of preference.
SIBLINGS = (("br", ".br"), ("gzip", ".gz"))
StatKey = tuple[int, int, int]

# Types the platform's tables get wrong or lack (JavaScript is text/javascript, RFC 9239).
_TYPES = {
    ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
    ".html": "text/html", ".htm": "text/html", ".txt": "text/plain", ".csv": "text/csv",
    ".md": "text/markdown", ".xml": "application/xml", ".json": "application/json",
    ".map": "application/json", ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
    ".wasm": "application/wasm", ".woff": "font/woff", ".woff2": "font/woff2",
    ".ttf": "font/ttf", ".otf": "font/otf", ".pdf": "application/pdf",
    ".gz": "application/gzip", ".zip": "application/zip", ".mp4": "video/mp4",
    ".webm": "video/webm", ".mp3": "audio/mpeg",
}


class StaticFile:
    """One servable file: where it is, its ``Content-Type`` and siblings, and its hash.

    PERF: a slotted class: read on every request.
    """

    __slots__ = ("codings", "content_type", "digest", "digest_key", "key", "path", "prepared",
                 "seen", "siblings")

    def __init__(self, path: str, content_type: bytes, key: StatKey,
                 siblings: dict[str, str]) -> None:
        self.path = path
        #: The ``Content-Type`` header value, charset included for text.
        self.content_type = content_type
        #: (size, mtime_ns, inode) when the file was indexed.
        self.key = key
        #: Precompressed siblings by content coding (``{"br": ".../app.css.br"}``).
        self.siblings = siblings
        self.codings = tuple(siblings)
        #: The sha256 of the content (hex), for the stat key ``digest_key``.
        self.digest: str | None = None
        self.digest_key: StatKey | None = None
        #: Headers already built, per content coding (and hashed or not), with their version.
        self.prepared: dict[tuple[str | None, bool], Any] = {}
        #: The last stat of each representation (by content coding), and until when it holds.
        self.seen: dict[str | None, tuple[float, os.stat_result]] = {}


class FolderIndex:
    """The servable files of one folder by their URL path (``css/app.css``)."""

    def __init__(self, folder: str, *, debug: bool = False) -> None:
        """Index ``folder`` (a missing folder has no files); ``debug`` re-reads the disk."""
        self.root = os.path.realpath(folder)
        self.debug = debug
        self.files: dict[str, StaticFile] = {}
        for name, path, info in _walk(self.root):
            entry = _entry(self.root, name, path, info)
            entry.digest, entry.digest_key = hash_file(path), entry.key
            self.files[name] = entry

    def find(self, name: str) -> tuple[StaticFile, str | None] | None:
        """The file a URL path names, and the hash it asks for (a hashed name), if any.

        A plain name wins over a hashed reading of it, so a file really called
        ``lib.0123abcd.js`` is served as is.
        """
        entry = self.file(name)
        if entry is not None:
            return entry, None
        for original, digest in _unhashed(name):
            entry = self.file(original)
            if entry is not None:
                return entry, digest
        return None

    def file(self, name: str) -> StaticFile | None:
        """The file at the URL path ``name``, or ``None``.

        SECURITY: outside debug mode only the index answers, and it holds nothing
        but safe names of files inside the folder; the disk is asked only in debug
        mode, and only for a name that passes :func:`safe_name`.
        """
        if not self.debug:
            return self.files.get(name)
        if not safe_name(name):
            return None
        # Debug mode: the disk as it is now, so new, changed and deleted files show.
        path = os.path.join(self.root, *name.split("/"))
        try:
            real = os.path.realpath(path)
            info = os.stat(real)
        except (OSError, ValueError):
            return None
        if not _is_inside(self.root, real) or not stat.S_ISREG(info.st_mode):
            return None  # SECURITY: a symlink leading out of the folder, or a directory
        entry = _entry(self.root, name, path, info)
        known = self.files.get(name)
        if known is not None and known.digest_key == entry.key:
            entry.digest, entry.digest_key = known.digest, known.digest_key
            entry.prepared = known.prepared
        self.files[name] = entry
        return entry


def build_manifest(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Every servable file of ``folder`` by its URL path, mapped to its hashed name.

    ``{"css/app.css": "css/app.3f2a9c1e.css", ...}``: what ``static_url`` gives,
    read from the content of each file. A plain function, for tools that want the
    manifest without an app.
    """
    index = FolderIndex(os.fspath(folder))
    return {name: hashed_name(name, entry.digest or "") for name, entry in index.files.items()}


def hashed_name(name: str, digest: str) -> str:
    """``css/app.css`` with the content hash before its extension: ``css/app.3f2a9c1e.css``."""
    folder, slash, base = name.rpartition("/")
    stem, _, extension = base.rpartition(".")
    if not stem:  # no extension (or only a leading dot)
        stem, extension = base, ""
    hashed = f"{stem}.{digest[:HASH_LENGTH]}" + (f".{extension}" if extension else "")
    return f"{folder}{slash}{hashed}"


def safe_name(name: str) -> bool:
    """Whether a requested path can name a file inside the folder at all.

    SECURITY: no empty, ``.`` or ``..`` segment, no dotfile or dot-directory, no
    backslash, colon (Windows drive letters and streams) or NUL: such a name is a
    404 before the disk is asked anything.
    """
    # PERF: substring tests instead of splitting: '/.' starts a dot segment, '//' is an empty one.
    return not (not name or name[0] in "./" or name[-1] == "/" or "/." in name
                or "//" in name or "\\" in name or ":" in name or "\0" in name)


def hash_file(path: str) -> str:
    """The sha256 of a file's content, in hex (read in chunks)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()



def stat_key(info: os.stat_result) -> StatKey:
    """What changes when a file changes: size, modification time (ns) and inode."""
    return info.st_size, info.st_mtime_ns, info.st_ino


def media_type(name: str) -> bytes:
    """The ``Content-Type`` for a file name: by extension, ``charset=utf-8`` for text."""
    extension = os.path.splitext(name)[1].lower()
    kind = _TYPES.get(extension) or _platform_types().get(extension) or (
        "application/octet-stream")
    if kind.startswith("text/"):
        kind += "; charset=utf-8"
    return kind.encode("latin-1")


@functools.cache
def _platform_types() -> dict[str, str]:
    # NOTE: mimetypes loads with the first static folder; MimeTypes() is Python's own table,
    # not the machine's /etc/mime.types, so a file gets the same type everywhere.
    import mimetypes

    return mimetypes.MimeTypes().types_map[True]


def _entry(root: str, name: str, path: str, info: os.stat_result) -> StaticFile:
    siblings = {}
    for coding, suffix in SIBLINGS:
        try:
            sibling = os.stat(path + suffix)
        except OSError:
            continue
        # A sibling older than its original was made from an older version: never served.
        if stat.S_ISREG(sibling.st_mode) and sibling.st_mtime_ns >= info.st_mtime_ns and (
                _is_inside(root, os.path.realpath(path + suffix))):
            siblings[coding] = path + suffix
    return StaticFile(path, media_type(name), stat_key(info), siblings)


def _walk(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """``(url_path, path, stat)`` of every servable file under ``root``.

    SECURITY: dot-directories are never entered, dotfiles never listed, and a
    symlink (to a file or a directory) counts only if it stays inside ``root``.
    """
    seen = {root}
    for directory, subdirectories, files in os.walk(root, followlinks=True):
        kept = []
        for sub in subdirectories:
            real = os.path.realpath(os.path.join(directory, sub))
            if _is_listable(sub) and _is_inside(root, real) and real not in seen:
                seen.add(real)  # a symlink loop is entered once
                kept.append(sub)
        subdirectories[:] = kept
        for file in files:
            path = os.path.join(directory, file)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            if not (_is_listable(file) and safe_name(name)):
                continue
            try:
                info = os.stat(path)
            except OSError:
                continue  # a dangling symlink
            if stat.S_ISREG(info.st_mode) and _is_inside(root, os.path.realpath(path)):
                yield name, path, info


def _is_listable(name: str) -> bool:
    """Not hidden, and a name a URL can carry (file systems allow bytes that UTF-8 does not)."""
    if name.startswith("."):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_inside(root: str, real: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _unhashed(name: str) -> Iterator[tuple[str, str]]:
    """The names a hashed name may stand for, with the hash: ``app.3f2a9c1e.css`` -> ``app.css``."""
    folder, slash, base = name.rpartition("/")
    parts = base.split(".")
    # app.<hash>.css, and app.<hash> for a file without extension.
    for position in (len(parts) - 2, len(parts) - 1):
        if position >= 1 and _is_hash(parts[position]):
            original = ".".join(parts[:position] + parts[position + 1:])
            yield f"{folder}{slash}{original}", parts[position]


def _is_hash(text: str) -> bool:
    return len(text) == HASH_LENGTH and all(c in "0123456789abcdef" for c in text)
