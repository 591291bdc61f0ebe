"""The debug-mode error page: the exception, each frame with its source, the request.

Only ever used when ``DEBUG`` is on; every value is HTML-escaped.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zephyr.error_handlers import instance_of
from zephyr.error_pages import nonce_attribute
from zephyr.responses import HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = ["DebugPage"]


class DebugPage:
    """The debug renderer an app in debug mode hands its error pages."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def refusal(self, request: Request) -> str | None:
        """Why this request's client may not see the page (``None``: it may)."""
        return None

    def __call__(self, request: Request, exc: BaseException, request_id: str, *,
                 wants_html: bool) -> Response:
        """The 500 response that shows ``exc``."""
        return debug_response(request, exc, request_id, wants_html=wants_html)


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f}"
    "header{background:#b3261e;color:#fff;padding:1.2rem 2rem}"
    "header h1{margin:0;font-size:1.4rem}header p{margin:.3rem 0 0;white-space:pre-wrap}"
    "main{padding:1rem 2rem}.frame{border:1px solid #ddd;border-radius:6px;margin:.8rem 0}"
    ".frame h2{font-size:.95rem;margin:0;padding:.5rem .8rem;background:#f5f5f7}"
    ".frame.app h2{background:#fff4e5}pre{margin:0;padding:.5rem .8rem;overflow:auto;"
    "font:13px/1.45 ui-monospace,monospace}.hl{background:#ffe1dc;display:block}"
    "table{border-collapse:collapse}td{padding:.15rem .6rem;border-bottom:1px solid #eee;"
    "font:13px ui-monospace,monospace;vertical-align:top}"
)


def debug_response(
    request: Request, exc: BaseException, request_id: str, *, wants_html: bool
) -> Response:
    """A 500 response that shows ``exc`` in full (debug mode only)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not wants_html:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Internal Server Error",
                "status": 500,
                "detail": f"{type(exc).__name__}: {exc}",
                "instance": instance_of(request_id),
                "request_id": request_id,
                "traceback": traceback.format_exception(exc),
            },
            500,
            headers={"content-type": "application/problem+json"},
        )
    return HTMLResponse(_page(request, exc, frames, request_id), 500)


def _page(
    request: Request, exc: BaseException, frames: traceback.StackSummary, request_id: str
) -> str:
    title = html.escape(f"{type(exc).__name__}")
    message = html.escape(str(exc))
    blocks = "".join(_frame(frame) for frame in reversed(frames))
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in request.headers.multi_items()
    )
    where = html.escape(f"{request.scope.get('method')} {request.scope.get('path')}")
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<style{nonce_attribute(request.csp_nonce)}>{_STYLE}</style>"
        f"<header><h1>{title} in {where}</h1><p>{message}</p></header>"
        f"<main><p>Request id {html.escape(request_id)}. This page is shown because DEBUG "
        "is on; turn it off in production.</p><h2>Traceback (most recent call first)</h2>"
        f"{blocks}<h2>Request headers</h2><table>{rows}</table></main></html>"
    )


def _frame(frame: traceback.FrameSummary) -> str:
    in_app = "site-packages" not in frame.filename and "/zephyr/" not in frame.filename
    lines = _source(frame.filename, frame.lineno or 0)
    code = "".join(
        f'<span class="{"hl" if n == frame.lineno else ""}">{n:>5}  {html.escape(text)}</span>\n'
        for n, text in lines
    )
    return (
        f'<div class="frame{" app" if in_app else ""}"><h2>{html.escape(frame.filename)}, '
        f"line {frame.lineno}, in {html.escape(frame.name)}</h2><pre>{code}</pre></div>"
    )


def _source(filename: str, lineno: int, context: int = 4) -> list[tuple[int, str]]:
    import linecache

    first = max(1, lineno - context)
    return [
        (n, linecache.getline(filename, n).rstrip("\n"))
        for n in range(first, lineno + context + 1)
        if linecache.getline(filename, n)
    ]
