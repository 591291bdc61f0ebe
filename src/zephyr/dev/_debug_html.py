"""The debug page as HTML: self-contained (one nonced style, no script, nothing fetched),
every value escaped. The sections: the template error, the traceback of each exception of
the chain, the request, the route, the settings."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from zephyr.dev._debug_data import (
    MASK,
    OUTER_FRAMES,
    Failure,
    Frame,
    Masker,
    TemplateProblem,
    chain_of,
    template_problem,
)
from zephyr.error_pages import nonce_attribute

if TYPE_CHECKING:
    from zephyr.config import Config
    from zephyr.requests import Request

__all__ = ["render_page"]

_STYLE = (
    ":root{--ink:#1d1d1f;--soft:#6e6e73;--line:#e3e3e8;--code:#f6f6f8;--hl:#ffe3dc}"
    "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:var(--ink)}"
    "header{background:#b3261e;color:#fff;padding:1.2rem 2rem}"
    "header .kind{margin:0;font:600 .95rem ui-monospace,monospace;opacity:.85}"
    "header h1{margin:.2rem 0;font-size:1.45rem;white-space:pre-wrap;word-break:break-word}"
    "header .where{margin:0;opacity:.85}"
    "nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);"
    "padding:.4rem 2rem}nav a{margin-right:1.2rem;color:#0b5cad;text-decoration:none}"
    "main{padding:.5rem 2rem 2rem;max-width:80rem}section{margin-top:1.5rem}"
    "h2{font-size:1.15rem;border-bottom:1px solid var(--line);padding-bottom:.3rem}"
    "h2 small{font-weight:400;color:var(--soft)}h3{font-size:1rem;margin:1.2rem 0 .4rem}"
    ".num{color:var(--soft);margin-right:.3rem}.rel{color:var(--soft);margin:.2rem 0 .6rem}"
    ".frame{border:1px solid var(--line);border-radius:6px;margin:.5rem 0}"
    ".frame summary{cursor:pointer;padding:.45rem .8rem;background:var(--code)}"
    ".frame.app summary{background:#fff4e5}.frame.template summary{background:#eaf3ff}"
    ".frame.library summary{color:var(--soft)}"
    ".badge{font-size:.75rem;background:#0b5cad;color:#fff;border-radius:3px;padding:0 .3rem}"
    "pre{margin:0;padding:.5rem 0;overflow:auto;font:13px/1.5 ui-monospace,monospace}"
    ".ln{display:inline-block;width:5ch;padding-right:1ch;text-align:right;color:var(--soft);"
    "user-select:none}mark{background:var(--hl);display:inline-block;min-width:calc(100% - 6ch)}"
    "table{border-collapse:collapse;margin:.3rem 0 .6rem}"
    "th,td{padding:.15rem .7rem .15rem 0;border-bottom:1px solid var(--line);"
    "vertical-align:top;text-align:left;font:13px/1.45 ui-monospace,monospace}"
    "th{color:var(--soft);font-weight:400;white-space:nowrap}td{word-break:break-all}"
    ".locals{margin:0 .8rem .6rem}.template{border-left:4px solid #0b5cad;padding-left:1rem}"
    ".omitted{color:var(--soft);font-style:italic}"
    "#about{color:var(--soft);font-size:.9rem}"
)
_NAV = ('<nav><a href="#traceback">Traceback</a><a href="#request">Request</a>'
        '<a href="#route">Route</a><a href="#settings">Settings</a></nav>')
_RELATIONS = {
    "cause": "#{of} was raised from this one (<code>raise … from</code>).",
    "context": "#{of} was raised while this one was being handled.",
    "group": "One of the exceptions of group #{of}.",
}


def render_page(request: Request, exc: BaseException, request_id: str, *, masker: Masker,
                config: Config) -> str:
    """The debug page of ``exc``, raised while handling ``request``."""
    chain = chain_of(exc, masker)
    first = chain[0]
    template = template_problem(chain, masker)
    where = masker.text(f"{request.scope.get('method')} {request.scope.get('path')}")
    return "".join((
        "<!doctype html><html lang=en><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{escape(first.type)}: {escape(first.message[:80])}</title>",
        f"<style{nonce_attribute(request.csp_nonce)}>{_STYLE}</style>",
        f"<header><p class=kind>{escape(first.type)}</p><h1>{escape(first.message)}</h1>",
        f"<p class=where>{escape(where)} · request id {escape(request_id)}</p></header>",
        _NAV, "<main>",
        _template_section(template) if template is not None else "",
        "<section id=traceback><h2>Traceback <small>most recent call first</small></h2>",
        *(_failure(failure) for failure in chain), "</section>",
        _request_section(request, request_id, masker),
        _route_section(request, masker),
        _settings_section(config, masker),
        "<section id=about><p>This page is shown because DEBUG is on and the request came "
        "from this machine. It shows your source code and settings: never turn DEBUG on in "
        f"production. Python {escape(sys.version.split()[0])} on {escape(sys.platform)}.</p>"
        "</section></main></html>",
    ))


def _template_section(problem: TemplateProblem) -> str:
    return (
        f"<section class=template id=template><h2>Template error in "
        f"<code>{escape(problem.name)}</code>, line {problem.line}</h2>"
        f"<p>{escape(problem.message)}</p>{_source(problem.source, problem.line)}</section>"
    )


def _failure(failure: Failure) -> str:
    relation = ""
    if failure.relation is not None:
        relation = f"<p class=rel>{_RELATIONS[failure.relation].format(of=failure.of)}</p>"
    frames = [_frame(frame) for frame in failure.frames]
    if failure.omitted:
        frames.insert(len(frames) - OUTER_FRAMES,
                      f"<p class=omitted>… {failure.omitted} frames left out …</p>")
    return (
        f"<div class=exc id=exc-{failure.number}><h3><span class=num>#{failure.number}</span> "
        f"{escape(failure.type)}: {escape(failure.message)}</h3>{relation}{''.join(frames)}</div>"
    )


def _frame(frame: Frame) -> str:
    badge = "<span class=badge>template</span> " if frame.kind == "template" else ""
    opened = "" if frame.kind == "library" else " open"
    local_rows = _rows(frame.locals)
    return (
        f'<details class="frame {frame.kind}"{opened}><summary>{badge}'
        f"<code>{escape(frame.file)}</code>, line {frame.line}, in "
        f"<code>{escape(frame.function)}</code></summary>{_source(frame.source, frame.line)}"
        + (f"<table class=locals>{local_rows}</table>" if local_rows else "")
        + "</details>"
    )


def _source(lines: Sequence[tuple[int, str]], failing: int) -> str:
    if not lines:
        return "<pre>(source not available)</pre>"
    shown = "".join(
        f"<span class=ln>{number}</span>"
        + (f"<mark>{escape(text)}</mark>" if number == failing else escape(text)) + "\n"
        for number, text in lines
    )
    return f"<pre>{shown}</pre>"


def _request_section(request: Request, request_id: str, masker: Masker) -> str:
    scope = request.scope
    client = scope.get("client")
    facts = [("method", str(scope.get("method"))), ("path", str(scope.get("path"))),
             ("root path", str(scope.get("root_path") or "")),
             ("scheme", str(scope.get("scheme"))), ("HTTP version", str(scope.get("http_version"))),
             ("client", f"{client[0]}:{client[1]}" if client else "unknown"),
             ("request id", request_id)]
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True,
                      errors="replace")
    headers = [(name.decode("latin-1"), value.decode("latin-1"))
               for name, value in scope.get("headers", ())]
    parts = ["<section id=request><h2>Request</h2>",
             _table((name, masker.text(value)) for name, value in facts if value)]
    if query:
        parts += ["<h3>Query</h3>", _table((n, masker.field(n, v)) for n, v in query)]
    parts += ["<h3>Headers</h3>", _table((n, masker.field(n, v)) for n, v in headers),
              "</section>"]
    return "".join(parts)


def _route_section(request: Request, masker: Masker) -> str:
    route = request.route
    if route is None:
        return ("<section id=route><h2>Route</h2><p>No route matched: the error happened "
                "before routing.</p></section>")
    handler: Any = getattr(route, "handler", None)
    facts = [("name", route.name), ("path", route.path),
             ("methods", ", ".join(sorted(route.methods)))]
    if handler is not None:
        qualname = getattr(handler, "__qualname__", type(handler).__qualname__)
        facts.append(("handler", f"{getattr(handler, '__module__', '?')}.{qualname}"))
    source = getattr(route, "source", None)
    if source:
        facts.append(("defined at", str(source)))
    parts = ["<section id=route><h2>Route</h2>", _table((n, masker.text(v)) for n, v in facts)]
    if request.path_params:
        parts += ["<h3>Path parameters</h3>",
                  _table((n, masker.value(n, v)) for n, v in request.path_params.items())]
    parts.append("</section>")
    return "".join(parts)


def _settings_section(config: Config, masker: Masker) -> str:
    secret = config.secrets()
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>"
        f"{MASK if name in secret and config[name] else escape(masker.repr(config[name]))}</td>"
        f"<td>{escape(masker.text(config.source_of(name)))}</td></tr>"
        for name in sorted(config)
    )
    return f"<section id=settings><h2>Settings</h2><table>{rows}</table></section>"


def _table(rows: Iterable[tuple[str, str]]) -> str:
    return f"<table>{_rows(rows)}</table>"


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
                   for name, value in rows)
