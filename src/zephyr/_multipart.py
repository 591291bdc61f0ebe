"""Multipart form bodies, parsed chunk by chunk with python-multipart within count limits."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from zephyr.datastructures import Headers
from zephyr.errors import BadRequest, PayloadTooLarge
from zephyr.uploads import UploadFile

__all__ = ["MultipartReader"]


class MultipartReader:
    """Feeds body chunks to python-multipart and collects fields and files.

    The parser's callbacks are synchronous, so they only record what happened;
    the events are then applied (and file data written) between chunks. One
    chunk may hold several parts, so each part's headers are queued with it.
    """

    def __init__(self, content_type: str, *, max_fields: int, max_files: int,
                 spool_size: int) -> None:
        self.max_fields = max_fields
        self.max_files = max_files
        self.spool_size = spool_size
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadRequest("the multipart body has no boundary in its Content-Type header")
        self.events: list[tuple[str, bytes]] = []
        self.header_field = b""
        self.header_value = b""
        self.part_headers: list[tuple[bytes, bytes]] = []
        self.pending_headers: deque[list[tuple[bytes, bytes]]] = deque()
        self.started = False
        self.ended = False
        try:
            self.parser = MultipartParser(
                boundary,
                {
                    "on_part_data": lambda d, s, e: self.events.append(("data", d[s:e])),
                    "on_part_end": lambda: self.events.append(("end", b"")),
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_end": self._on_end,
                },
            )
        except FormParserError as exc:
            raise BadRequest(f"malformed multipart body: {exc}") from None
        self.items: list[tuple[str, str | UploadFile]] = []
        self.fields = 0
        self.files = 0
        self.name = ""
        self.field_data: list[bytes] = []
        self.upload: UploadFile | None = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _on_header_end(self) -> None:
        self.part_headers.append((self.header_field.lower(), self.header_value))
        self.header_field = self.header_value = b""

    def _on_headers_finished(self) -> None:
        self.pending_headers.append(self.part_headers)
        self.part_headers = []
        self.events.append(("headers", b""))

    def _on_end(self) -> None:
        self.ended = True

    async def read(self, stream: AsyncIterator[bytes]) -> list[tuple[str, str | UploadFile]]:
        try:
            async for chunk in stream:
                self.started = True
                self._write(chunk)
                await self._apply_events()
            try:
                self.parser.finalize()
            except FormParserError as exc:
                raise BadRequest(f"malformed multipart body: {exc}") from None
            await self._apply_events()
            if self.started and not self.ended:
                # python-multipart's finalize() does not check this (yet): a body cut
                # short would silently lose its last part.
                raise BadRequest(
                    "malformed multipart body: it ends before the closing boundary"
                )
        except BaseException:
            for _, value in self.items:
                if isinstance(value, UploadFile):
                    await value.close()
            if self.upload is not None:
                await self.upload.close()
            raise
        return self.items

    def _write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except FormParserError as exc:
            raise BadRequest(f"malformed multipart body: {exc}") from None

    async def _apply_events(self) -> None:
        events, self.events = self.events, []
        for kind, data in events:
            if kind == "headers":
                self._start_part(self.pending_headers.popleft())
            elif kind == "data":
                if self.upload is not None:
                    await self.upload.write(data)
                else:
                    self.field_data.append(data)
            elif kind == "end":
                await self._finish_part()

    def _start_part(self, raw_headers: list[tuple[bytes, bytes]]) -> None:
        headers = Headers(raw=raw_headers)
        disposition, params = parse_options_header(headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise BadRequest(
                "malformed multipart body: each part needs "
                "'Content-Disposition: form-data; name=\"...\"'"
            )
        self.name = _decode(params[b"name"], "a field name")
        if b"filename" in params:
            self.files += 1
            if self.files > self.max_files:
                raise PayloadTooLarge.too_many("files", self.max_files, "MULTIPART_MAX_FILES")
            self.upload = UploadFile(
                filename=_decode(params[b"filename"], "a filename"),
                content_type=headers.get("content-type", "application/octet-stream"),
                headers=headers,
                spool_size=self.spool_size,
            )
        else:
            self.fields += 1
            if self.fields > self.max_fields:
                raise PayloadTooLarge.too_many("fields", self.max_fields, "MULTIPART_MAX_FIELDS")
            self.field_data = []

    async def _finish_part(self) -> None:
        if self.upload is not None:
            await self.upload.seek(0)
            self.items.append((self.name, self.upload))
            self.upload = None
        else:
            self.items.append((self.name, _decode(b"".join(self.field_data), "a field value")))


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"malformed multipart body: {what} is not valid UTF-8") from None
