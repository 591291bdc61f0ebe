"""Form bodies (url-encoded and multipart) parsed with python-multipart, and the body limits.

The parser is handed the content type and the body as a stream; it knows
nothing of the request it came from.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from zephyr.datastructures import MultiDict, parse_query_string
from zephyr.errors import PayloadTooLarge, UnsupportedMediaType
from zephyr.uploads import UploadFile

__all__ = ["BodyLimits", "FormValue", "media_type", "parse_form"]

FormValue = typing.Union[str, "UploadFile"]
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest bodies accepted, by content type, and multipart bounds (``None``: no limit)."""

    json: int | None = MiB
    form: int | None = MiB
    multipart: int | None = 16 * MiB
    other: int | None = MiB
    max_fields: int = 1000
    max_files: int = 100
    spool_size: int = MiB
    #: Seconds the whole body may take to arrive (``BODY_TIMEOUT``); ``None``: no limit.
    timeout: float | None = 60.0
    #: Seconds the body may stop arriving (``BODY_IDLE_TIMEOUT``); ``None``: no limit.
    idle_timeout: float | None = 15.0

    def for_media_type(self, kind: str) -> int | None:
        """The size limit for a body of media type ``kind`` (see :func:`media_type`)."""
        if kind == "application/json" or kind.endswith("+json"):  # or application/*+json
            return self.json
        if kind == "application/x-www-form-urlencoded":
            return self.form
        if kind.startswith("multipart/"):
            return self.multipart
        return self.other


def media_type(content_type: bytes) -> str:
    """The media type of a ``Content-Type`` value: lower-cased, without parameters."""
    return content_type.partition(b";")[0].strip().lower().decode("latin-1")


async def parse_form(kind: str, content_type: str, body: Callable[[], Awaitable[bytes]],
                     stream: Callable[[], AsyncIterator[bytes]],
                     limits: BodyLimits) -> MultiDict[FormValue]:
    """Parse a form body of media type ``kind``, read by ``body`` or ``stream``.

    ``content_type`` is the header value ``kind`` came from (a multipart boundary is in it).
    """
    if kind == "application/x-www-form-urlencoded":
        raw = await body()
        # SECURITY: fields are counted before any is decoded: decoding takes the event loop
        # for about 0.5 s per MiB, counting '&' in C a thousandth of that.
        if _field_count(raw, limits.max_fields) > limits.max_fields:
            raise PayloadTooLarge.too_many("fields", limits.max_fields, "MULTIPART_MAX_FIELDS")
        return MultiDict[FormValue](parse_query_string(raw, what="form body"))
    if kind == "multipart/form-data":
        # NOTE: python-multipart is imported with the first multipart body, not with Zephyr.
        from zephyr._multipart import MultipartReader

        reader = MultipartReader(content_type, max_fields=limits.max_fields,
                                 max_files=limits.max_files, spool_size=limits.spool_size)
        return MultiDict(await reader.read(stream()))
    raise UnsupportedMediaType(
        "expected a form (Content-Type: application/x-www-form-urlencoded or "
        "multipart/form-data), got " + ("another media type" if kind else "no content type"),
        received={"content-type": kind} if kind else None,
    )


def _field_count(raw: bytes, limit: int) -> int:
    """How many fields url-encoded ``raw`` holds, counted exactly only past ``limit``."""
    bound = raw.count(b"&") + 1
    if bound <= limit:
        return bound
    pairs = raw.split(b"&")
    return len(pairs) - pairs.count(b"")  # blank pairs are skipped, as parse_query_string does
