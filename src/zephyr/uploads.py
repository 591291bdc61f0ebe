"""Files uploaded in multipart forms: in memory up to a threshold, then on disk."""

from __future__ import annotations

import os
import re

from zephyr.concurrency import run_sync
from zephyr.datastructures import Headers

__all__ = ["UploadFile", "sanitize_filename"]

MiB = 1024 * 1024


# SECURITY: control characters (NUL included) never survive into a filename.
_UNSAFE_FILENAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def sanitize_filename(raw: str | None) -> str | None:
    """The last path component of a client-sent filename, without control characters.

    ``"../../etc/passwd"`` becomes ``"passwd"``, ``"C:\\x\\a.txt"`` becomes
    ``"a.txt"``; a name that is empty or only dots becomes ``None``.
    """
    if raw is None:
        return None
    name = _UNSAFE_FILENAME_CHARS.sub("", raw).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name.strip("."):
        return None
    return name[:255]


class UploadFile:
    """A file from a multipart form, kept in memory up to a threshold, then on disk.

    ``filename`` is sanitised (no directories, no control characters); the
    name exactly as the client sent it is ``raw_filename``: never use that one
    to build a path.
    """

    __slots__ = ("content_type", "file", "filename", "headers", "raw_filename", "size")

    def __init__(
        self,
        *,
        filename: str | None,
        content_type: str = "application/octet-stream",
        headers: Headers | None = None,
        spool_size: int = MiB,
    ) -> None:
        self.raw_filename = filename
        self.filename = sanitize_filename(filename)
        self.content_type = content_type
        self.headers = headers or Headers()
        # NOTE: tempfile (with shutil, random...) loads with the first upload, not with Zephyr.
        import tempfile

        # The file lives as long as the upload; close() (called after the response) ends it.
        self.file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=spool_size
        )
        self.size = 0

    @property
    def in_memory(self) -> bool:
        """Whether the content is still held in memory (not yet spilled to disk)."""
        return not getattr(self.file, "_rolled", False)

    async def write(self, data: bytes) -> None:
        """Append ``data`` (used while parsing the form)."""
        self.size += len(data)
        if self.in_memory:
            self.file.write(data)
        else:
            await run_sync(self.file.write, data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all by default) from the current position."""
        if self.in_memory:
            return self.file.read(size)
        return await run_sync(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to ``offset`` from the start."""
        if self.in_memory:
            self.file.seek(offset)
        else:
            await run_sync(self.file.seek, offset)

    async def save(self, path: str | os.PathLike[str]) -> None:
        """Copy the whole upload to ``path`` (choose the path yourself, not from the client)."""
        await self.seek(0)

        def copy() -> None:
            with open(path, "wb") as target:
                while chunk := self.file.read(MiB):
                    target.write(chunk)

        await run_sync(copy)

    async def close(self) -> None:
        """Delete the temporary data."""
        if self.in_memory:
            self.file.close()
        else:
            await run_sync(self.file.close)

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, size={self.size}, {self.content_type!r})"
