"""Serving one static folder: the representation chosen, validators, 304, 206, 416 and 412.

Per request: the file found in the folder's index, its precompressed sibling
picked by ``Accept-Encoding``, one ``stat``, and the preconditions and range
evaluated against that representation's own ``ETag`` (RFC 9110 §13). Small
files are read at once; others stream through :class:`~zephyr.responses.FileResponse`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

from zephyr._conditional import CONDITIONAL_HEADERS, byte_range, precondition_status
from zephyr.compression import negotiate
from zephyr.concurrency import run_sync
from zephyr.datastructures import http_date
from zephyr.errors import HTTPException, NotFound, URLBuildError
from zephyr.responses import FileResponse, Response
from zephyr.staticfiles.folder import (
    FolderIndex,
    StaticFile,
    StatKey,
    hash_file,
    hashed_name,
    safe_name,
    stat_key,
)

if TYPE_CHECKING:
    from zephyr.compression import CompressionConfig
    from zephyr.requests import Request

__all__ = ["StaticFiles"]

#: Files up to this size are read in one go and sent as a complete response.
READ_AT_ONCE = 64 * 1024
#: ``Cache-Control`` of a hashed URL: its content can never change.
IMMUTABLE = b"public, max-age=31536000, immutable"
_READ = CONDITIONAL_HEADERS | {b"accept-encoding"}
_NOT_FOUND = "no file is served at this address"


class _Prepared(NamedTuple):
    """What one representation sends, built once per version of the file."""

    version: tuple[StatKey, str | None]
    etag: str
    last_modified: str
    modified: int
    headers: tuple[tuple[bytes, bytes], ...]
    not_modified: tuple[tuple[bytes, bytes], ...]


class StaticFiles:
    """The files of one folder, served by the route ``app.static()`` registers for it.

    Built at registration; :meth:`start` indexes the folder when the app starts
    serving. Call it with a request whose ``filename`` path parameter names a file.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)
        self._index: FolderIndex | None = None
        self._max_age = b"max-age=60"
        self._compression: CompressionConfig | None = None

    @property
    def index(self) -> FolderIndex:
        """The folder's files (indexed on first use when the app has not started yet)."""
        if self._index is None:
            self._index = FolderIndex(self.folder)
        return self._index

    def start(self, *, max_age: int, debug: bool,
              compression: CompressionConfig | None = None) -> None:
        """Index the folder; plain URLs are fresh for ``max_age`` seconds (revalidated every
        time in ``debug`` mode, where the disk is read again per request)."""
        self._index = FolderIndex(self.folder, debug=debug)
        self._max_age = b"no-cache" if debug or max_age <= 0 else b"max-age=%d" % max_age
        self._compression = compression

    def url_path(self, filename: str) -> str:
        """``filename`` (a path inside the folder) with its content hash, for ``static_url``."""
        entry = self.index.file(filename.lstrip("/"))
        if entry is None:
            raise URLBuildError(
                f"static_url: there is no file {filename!r} in the static folder "
                f"{self.folder!r}; check the name (a path relative to that folder)")
        digest = entry.digest
        if digest is None or entry.digest_key != entry.key:
            digest = entry.digest = hash_file(entry.path)
            entry.digest_key = entry.key
        return hashed_name(filename.lstrip("/"), digest)

    async def __call__(self, request: Request) -> Response:
        scope = request.scope
        name: str = request.path_params["filename"]
        raw = scope.get("raw_path") or b""
        # SECURITY: an encoded slash, backslash or NUL never names a file: '..%2f' tricks.
        if not safe_name(name) or (b"%" in raw and _has_encoded_separator(raw)):
            raise NotFound(_NOT_FOUND)
        found = self.index.find(name)
        if found is None:
            raise NotFound(_NOT_FOUND)
        entry, wanted = found
        fields = _read_fields(scope["headers"])
        coding = None
        if entry.codings and b"accept-encoding" in fields:
            coding = negotiate(fields[b"accept-encoding"].encode("latin-1"), entry.codings)[0]
        path = entry.siblings[coding] if coding is not None else entry.path
        info = _stat(path)
        if info is None and coding is not None:  # the sibling is gone: the original then
            coding, path = None, entry.path
            info = _stat(path)
        if info is None:
            raise NotFound(_NOT_FOUND)
        prepared = await self._prepare(entry, coding, info, wanted)
        status = precondition_status(fields, prepared.etag, prepared.modified,
                                     prepared.last_modified) if fields else None
        if status == 304:
            response = Response(None, 304)
            response.raw_headers = list(prepared.not_modified)
            return response
        if status is not None:
            raise HTTPException(status, "the file has changed since the version the request "
                                "names (If-Match / If-Unmodified-Since)")
        return self._respond(path, info, prepared, fields, scope["method"])

    async def _prepare(self, entry: StaticFile, coding: str | None, info: os.stat_result,
                       wanted: str | None) -> _Prepared:
        """The headers of this representation of ``entry`` (cached until the file changes)."""
        digest = None
        if wanted is not None:
            # A hashed name is served only while the content has that hash; for a sibling,
            # the original as indexed (a sibling is made from its original).
            current = entry.key if coding is not None else stat_key(info)
            if entry.digest_key != current:
                entry.digest = await run_sync(hash_file, entry.path)
                entry.digest_key = current
            digest = entry.digest or ""
            if not digest.startswith(wanted):
                raise NotFound(_NOT_FOUND)
        version = (stat_key(info), digest)
        slot = (coding, digest is not None)
        cached: _Prepared | None = entry.prepared.get(slot)
        if cached is None or cached.version != version:
            cached = entry.prepared[slot] = self._build(entry, coding, info, version)
        return cached

    def _build(self, entry: StaticFile, coding: str | None, info: os.stat_result,
               version: tuple[StatKey, str | None]) -> _Prepared:
        digest = version[1]
        if digest is not None:  # a hashed URL: the content hash, fresh for a year
            etag = f'"{digest[:20]}{"-" + coding if coding else ""}"'
            cache_control = IMMUTABLE
        else:
            etag = f'"{info.st_size:x}-{info.st_mtime_ns:x}-{info.st_ino:x}"'
            cache_control = self._max_age
        modified = int(info.st_mtime)
        last_modified = http_date(modified)
        common = [(b"etag", etag.encode("latin-1")), (b"cache-control", cache_control)]
        compression = self._compression
        size = entry.key[0] if coding is not None else info.st_size  # the original's
        if entry.codings or (compression is not None and compression.varies(
                entry.content_type, size)):
            common.append((b"vary", b"Accept-Encoding"))
        headers = [(b"content-type", entry.content_type), *common,
                   (b"last-modified", last_modified.encode("latin-1")),
                   (b"accept-ranges", b"bytes")]
        if coding is not None:
            headers.append((b"content-encoding", coding.encode("latin-1")))
        return _Prepared(version, etag, last_modified, modified, tuple(headers), tuple(common))

    def _respond(self, path: str, info: os.stat_result, prepared: _Prepared,
                 fields: dict[bytes, str], method: str) -> Response:
        size = info.st_size
        headers = list(prepared.headers)
        start, stop = 0, size
        status = 200
        # NOTE: RFC 9110 §14.2: Range is defined for GET only; HEAD answers as a GET would.
        part = byte_range(fields, size, prepared.etag, prepared.modified) if (
            fields and method == "GET") else None
        if part is not None:
            start, stop = part
            status = 206
            headers.append((b"content-range", b"bytes %d-%d/%d" % (start, stop - 1, size)))
        if method == "GET" and size <= READ_AT_ONCE:
            # PERF: a small file is read in one call on the event loop (from the page cache,
            # as nginx does by default) and sent as a complete response, without the thread
            # pool's round trips.
            response = Response(_read(path, start, stop - start), status)
            response.raw_headers = headers
            return response
        headers.append((b"content-length", b"%d" % (stop - start)))
        return FileResponse.prepared(path, info, headers, status_code=status, start=start,
                                     length=stop - start)


def _read_fields(headers: list[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The request's conditional headers and ``Accept-Encoding`` (repeated ones joined)."""
    fields: dict[bytes, str] = {}
    for name, value in headers:
        if name in _READ:
            text = value.decode("latin-1")
            fields[name] = f"{fields[name]}, {text}" if name in fields else text
    return fields


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _has_encoded_separator(raw_path: bytes) -> bool:
    lowered = raw_path.lower()
    return b"%2f" in lowered or b"%5c" in lowered or b"%00" in lowered


def _read(path: str, start: int, length: int) -> bytes:
    """``length`` bytes of the file at ``path`` from ``start`` (fewer if it shrank meanwhile)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        if start:
            os.lseek(fd, start, os.SEEK_SET)
        chunks = []
        while length > 0 and (chunk := os.read(fd, length)):
            chunks.append(chunk)
            length -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
