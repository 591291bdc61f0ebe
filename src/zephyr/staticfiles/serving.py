"""Serving one static folder: the representation chosen, validators, 304, 206, 416 and 412.

Per request: the file found in the folder's index, its precompressed sibling
picked by ``Accept-Encoding``, one ``stat``, and the preconditions and range
evaluated against that representation's own ``ETag`` (RFC 9110 §13). Small
files are sent from memory (read once per version, within a budget); others
stream from disk through :class:`~zephyr.responses.FileResponse`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

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
    stat_key,
)

if TYPE_CHECKING:
    from zephyr.compression import CompressionConfig
    from zephyr.requests import Request

__all__ = ["StaticFiles"]

#: Files up to this size are sent as a complete response, from memory once read.
READ_AT_ONCE = 64 * 1024
#: How many bytes of small files one folder keeps in memory (the rest is read per request).
MEMORY_BUDGET = 16 * 1024 * 1024
#: Seconds a small file's stat is trusted (outside debug mode): a change shows within this.
RECHECK = 1.0
#: ``Cache-Control`` of a hashed URL: its content can never change.
IMMUTABLE = b"public, max-age=31536000, immutable"
_READ = CONDITIONAL_HEADERS | {b"accept-encoding"}
_NOT_FOUND = "no file is served at this address"


class _Prepared:
    """What one representation of a file sends, built once per version of the file.

    PERF: a slotted class: read on every request.
    """

    __slots__ = ("body", "etag", "headers", "last_modified", "modified", "not_modified",
                 "version")

    def __init__(self, version: tuple[StatKey, str | None], etag: str, last_modified: str,
                 headers: list[tuple[bytes, bytes]],
                 not_modified: list[tuple[bytes, bytes]]) -> None:
        #: The stat key of the file sent, and the content hash for a hashed URL.
        self.version = version
        self.etag = etag
        self.last_modified = last_modified
        #: The modification time in whole seconds, as ``Last-Modified`` says it.
        self.modified = int(version[0][1] // 1_000_000_000)
        self.headers = tuple(headers)
        self.not_modified = tuple(not_modified)
        #: The content of a small file once read (this version's, so never stale).
        self.body: bytes | None = None


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
        self._memory = MEMORY_BUDGET
        self._recheck = RECHECK

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
        # Debug mode reads every file afresh: what changes shows at once.
        self._memory = 0 if debug else MEMORY_BUDGET
        self._recheck = 0.0 if debug else RECHECK

    def known_names(self) -> list[str]:
        """The names served that cannot change while the app runs (outside debug mode, the
        indexed files, plain and hashed): the route table finds them with one dict lookup."""
        index = self._index
        if index is None or index.debug:
            return []
        names = list(index.files)
        names += [hashed_name(name, entry.digest) for name, entry in index.files.items()
                  if entry.digest is not None]
        return names

    def url_path(self, filename: str) -> str:
        """``filename`` (a path inside the folder) with its content hash, for ``static_url``."""
        entry = self.index.file(filename.lstrip("/"))
        if entry is None:
            raise URLBuildError(
                f"static_url: there is no file {filename!r} in the static folder "
                f"{self.folder!r}; check the name (a path relative to that folder)")
        digest = entry.digest
        if digest is None:  # debug mode: the file changed since it was last hashed
            digest = entry.digest = hash_file(entry.path)
            entry.digest_key = entry.key
        return hashed_name(filename.lstrip("/"), digest)

    async def __call__(self, request: Request) -> Response:
        scope = request.scope
        name: str = request.path_params["filename"]
        raw = scope.get("raw_path") or b""
        # SECURITY: an encoded slash, backslash or NUL never names a file: '..%2f' tricks.
        # (Dot segments, dotfiles and the like are not in the index: see FolderIndex.file.)
        if b"%" in raw and _has_encoded_separator(raw):
            raise NotFound(_NOT_FOUND)
        found = self.index.find(name)
        if found is None:
            raise NotFound(_NOT_FOUND)
        entry, wanted = found
        fields: dict[bytes, str] = {}
        for header, value in scope["headers"]:
            if header in _READ:  # the conditional headers and Accept-Encoding, joined
                text = value.decode("latin-1")
                fields[header] = f"{fields[header]}, {text}" if header in fields else text
        coding = None
        if entry.codings and b"accept-encoding" in fields:
            coding = negotiate(fields[b"accept-encoding"].encode("latin-1"), entry.codings)[0]
        coding, path, info, original = self._representation(entry, coding)
        if wanted is not None:
            await _check_hash(entry, stat_key(original), wanted)
        prepared = self._prepare(entry, coding, (stat_key(info), entry.digest if wanted else None))
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

    def _representation(self, entry: StaticFile, coding: str | None) -> tuple[
            str | None, str, os.stat_result, os.stat_result]:
        """The coding, path and stat of what is sent (the sibling of ``coding``, or the
        original when it has none), and the original's stat."""
        original = self._stat(entry, None, entry.path)
        if original is None:
            raise NotFound(_NOT_FOUND)
        if coding is not None:
            path = entry.siblings[coding]
            info = self._stat(entry, coding, path)
            # A sibling gone, or older than its original (made from an older version): never.
            if info is not None and info.st_mtime_ns >= original.st_mtime_ns:
                return coding, path, info, original
        return None, entry.path, original, original

    def _stat(self, entry: StaticFile, coding: str | None, path: str) -> os.stat_result | None:
        """The stat of one representation: for a small file, trusted for ``RECHECK`` seconds.

        PERF: a stat is a system call that costs as much as the rest of a request
        on some machines; a busy small file (sent from memory, headers and body of
        one version alike) is looked at once a second, like nginx's open file cache.
        A large file is looked at on every request: it is read from disk.
        """
        now = time.monotonic()
        seen = entry.seen.get(coding)
        if seen is not None and seen[0] > now:
            return seen[1]
        try:
            info = os.stat(path)
        except OSError:
            entry.seen.pop(coding, None)
            return None
        if info.st_size <= READ_AT_ONCE and self._recheck:
            entry.seen[coding] = (now + self._recheck, info)
        return info

    def _prepare(self, entry: StaticFile, coding: str | None,
                 version: tuple[StatKey, str | None]) -> _Prepared:
        """This representation of ``entry`` (its headers built once per version)."""
        slot = (coding, version[1] is not None)
        cached: _Prepared | None = entry.prepared.get(slot)
        if cached is not None and cached.version == version:
            return cached
        if cached is not None and cached.body is not None:
            self._memory += len(cached.body)  # the old version's body is let go
        prepared = entry.prepared[slot] = self._build(entry, coding, version)
        return prepared

    def _build(self, entry: StaticFile, coding: str | None,
               version: tuple[StatKey, str | None]) -> _Prepared:
        (size, mtime_ns, inode), digest = version
        if digest is not None:  # a hashed URL: the content hash, fresh for a year
            etag = f'"{digest[:20]}{"-" + coding if coding else ""}"'
            cache_control = IMMUTABLE
        else:
            etag = f'"{size:x}-{mtime_ns:x}-{inode:x}"'
            cache_control = self._max_age
        last_modified = http_date(mtime_ns // 1_000_000_000)
        common = [(b"etag", etag.encode("latin-1")), (b"cache-control", cache_control)]
        compression = self._compression
        original_size = entry.key[0] if coding is not None else size
        if entry.codings or (compression is not None and compression.varies(
                entry.content_type, original_size)):
            common.append((b"vary", b"Accept-Encoding"))
        headers = [(b"content-type", entry.content_type), *common,
                   (b"last-modified", last_modified.encode("latin-1")),
                   (b"accept-ranges", b"bytes")]
        if coding is not None:
            headers.append((b"content-encoding", coding.encode("latin-1")))
        return _Prepared(version, etag, last_modified, headers, common)

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
            body = prepared.body
            if body is None:
                body = _read(path, size)
                # PERF: kept for the next requests while the stat says it is this version: a
                # read costs three system calls, often more than the rest of the request.
                if len(body) == size <= self._memory:
                    prepared.body = body
                    self._memory -= size
            response = Response(body if part is None else body[start:stop], status)
            response.raw_headers = headers
            return response
        headers.append((b"content-length", b"%d" % (stop - start)))
        return FileResponse.prepared(path, info, headers, status_code=status, start=start,
                                     length=stop - start)


async def _check_hash(entry: StaticFile, key: StatKey, wanted: str) -> None:
    """A hashed name is served only while the content has that hash (the original's, at
    the stat ``key`` just seen; a sibling is made from its original)."""
    if entry.digest is None or entry.digest_key != key:
        entry.digest = await run_sync(hash_file, entry.path)
        entry.digest_key = key
    if not entry.digest.startswith(wanted):
        raise NotFound(_NOT_FOUND)


def _has_encoded_separator(raw_path: bytes) -> bool:
    lowered = raw_path.lower()
    return b"%2f" in lowered or b"%5c" in lowered or b"%00" in lowered


def _read(path: str, size: int) -> bytes:
    """The first ``size`` bytes of the file at ``path`` (fewer if it shrank meanwhile)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = []
        while size > 0 and (chunk := os.read(fd, size)):
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
