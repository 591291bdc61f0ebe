"""Serving an app: uvicorn by default, granian when installed and asked for."""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zephyr._types import Receive, Scope, Send
from zephyr.config import ENV_PREFIX
from zephyr.errors import SetupError

if TYPE_CHECKING:
    from zephyr.config import Config

__all__ = ["ServableApp", "import_string_for", "listen_address", "refuse_busy_port", "serve"]

#: Seconds uvicorn keeps a connection open, idle, after a response (its default, made ours).
_KEEP_ALIVE_TIMEOUT = 5
#: Bytes of a request line (method, target, version) a request head may hold besides its
#: headers: 8 KiB, as common proxies allow.
_REQUEST_LINE = 8 * 1024


class ServableApp(Protocol):
    """An ASGI app that knows the module it was made in (``Zephyr(__name__)``) and its
    settings."""

    import_name: str

    @property
    def config(self) -> Mapping[str, Any]: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


def serve(app: ServableApp, *, host: str, port: int, reload: bool, workers: int, server: str,
          **options: Any) -> None:
    """Run ``app`` until interrupted. Reload and several workers need an import string."""
    needs_import_string = reload or workers > 1 or server == "granian"
    target: Any = import_string_for(app) if needs_import_string else app
    if server == "uvicorn":
        import uvicorn

        # SECURITY: forwarding headers are the app's to judge (TRUSTED_PROXIES); uvicorn's own
        # proxy_headers would believe them from 127.0.0.1 before the app sees the request.
        options.setdefault("proxy_headers", False)
        # SECURITY: what uvicorn can bound of a slow or greedy client: how long a connection
        # idles between requests, and (h11 only) how much of an unfinished request head it
        # buffers, here no more than the guard would accept. It cannot bound how long a head
        # takes to arrive: that is the reverse proxy's (docs/lifespan-and-concurrency.md).
        options.setdefault("timeout_keep_alive", _KEEP_ALIVE_TIMEOUT)
        options.setdefault("h11_max_incomplete_event_size", _head_limit(app.config))
        uvicorn.run(target, host=host, port=port, reload=reload, workers=workers, **options)
    elif server == "granian":
        try:
            from granian import Granian
            from granian.constants import Interfaces
        except ImportError:
            raise SetupError(
                "server='granian' needs granian: pip install 'zephyr[granian]'"
            ) from None
        Granian(target, address=host, port=port, interface=Interfaces.ASGI, workers=workers,
                reload=reload, **options).serve()
    else:
        raise SetupError(f"unknown server {server!r}; use 'uvicorn' or 'granian'")


def listen_address(config: Config, host: str | None, port: int | None) -> tuple[str, int, str]:
    """Where ``app.run()`` listens (its arguments, else the HOST and PORT settings), and how
    to pick another port (``{port}`` marks where a free one goes)."""
    if port is not None:
        how = "app.run(port={port})"
    else:
        port = config["PORT"]
        source = config.source_of("PORT")
        how = (f"{ENV_PREFIX}PORT={{port}} (the PORT setting)"
               if source in ("default", f"environment {ENV_PREFIX}PORT")
               else f"PORT={{port}} where it is set now ({source})")
    return (config["HOST"] if host is None else host), port, how


def refuse_busy_port(host: str, port: int, *, how: str) -> None:
    """End the process with one line when another process listens on ``host:port``.

    ``how`` says how to pick another port, ``{port}`` standing for the next one. The
    port is bound as uvicorn binds it (``SO_REUSEADDR``: a port whose old connections
    linger in TIME_WAIT is free); any other failure (an unknown address, a privileged
    port) is left for the server to report.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return
            # A traceback would bury the one thing to do: say it in one line, exit status 1.
            raise SystemExit(
                f"port {port} is in use; stop the other server or pick another port: "
                + how.format(port=port + 1)
            ) from None


def _head_limit(config: Mapping[str, Any]) -> int:
    """The largest request head the guard accepts: the request line, then each header with
    its ': ' and CRLF."""
    limit: int = config["MAX_HEADER_SIZE"] + 4 * config["MAX_HEADER_COUNT"] + _REQUEST_LINE
    return limit


def import_string_for(app: ServableApp) -> str:
    """``"package.module:attribute"`` under which ``app`` can be imported again."""
    module_name = app.import_name
    module = sys.modules.get(module_name)
    if module is None:
        raise SetupError(_cannot_import(app))
    if module_name == "__main__":
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.name:
            module_name = spec.name
        else:
            from_file = _module_name_from_file(getattr(module, "__file__", None))
            if from_file is None:
                raise SetupError(_cannot_import(app))
            module_name = from_file
    for attribute, value in vars(module).items():
        if value is app:
            return f"{module_name}:{attribute}"
    raise SetupError(_cannot_import(app))


def _module_name_from_file(filename: str | None) -> str | None:
    if not filename:
        return None
    path = Path(filename).resolve().with_suffix("")
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return None
    return ".".join(relative.parts)


def _cannot_import(app: ServableApp) -> str:
    return (
        f"cannot find an import string for {app!r}, which reload and several workers need; "
        "create it as a module-level variable with Zephyr(__name__) and run the module, or "
        "start it with: uvicorn package.module:app --reload"
    )
