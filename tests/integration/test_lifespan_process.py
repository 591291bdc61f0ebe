"""The application's life as a process: startup failure, graceful shutdown, ``app.run()``.

Each test starts its own server process and looks at its exit code, its
output and the marker files its hooks write.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.apps import MARKERS_ENV
from tests.integration.conftest import (
    REPO,
    ServeApp,
    Server,
    ServerPool,
    server_env,
    uvicorn_command,
)

pytestmark = pytest.mark.integration

# uvicorn's exit code when the application's startup fails (uvicorn.server.STARTUP_FAILURE).
STARTUP_FAILURE = 3


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def served(url: str, expected: str, timeout: float) -> bool:
    """Whether GET ``url`` answers ``expected`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).text == expected:
                return True
        except httpx.TransportError:
            pass  # a reloading server answers late
        time.sleep(0.1)
    return False


def wait_for_text(server: Server, url: str, expected: str, timeout: float) -> str:
    """GET ``url`` until its body is ``expected`` (a reloading server answers late)."""
    if not served(url, expected, timeout):
        pytest.fail(f"{url} did not answer {expected!r} within {timeout} s:\n{server.output()}")
    return expected


def test_startup_failure_stops_uvicorn_with_the_reason(launch: ServerPool, tmp_path: Path) -> None:
    server = launch.spawn(uvicorn_command("tests.integration.apps:failing_app"),
                          env={MARKERS_ENV: str(tmp_path)})
    code = server.wait(timeout=15.0)
    output = server.output()
    assert code == STARTUP_FAILURE, output
    # Zephyr reports the reason to uvicorn, which logs it before giving up.
    assert "ERROR:    RuntimeError: database unreachable" in output
    assert "Application startup failed. Exiting." in output


def test_a_misregistered_route_stops_uvicorn_with_the_reason(
    launch: ServerPool, tmp_path: Path
) -> None:
    server = launch.spawn(uvicorn_command("tests.integration.apps:misregistered_app"),
                          env={MARKERS_ENV: str(tmp_path)})
    code = server.wait(timeout=15.0)
    output = server.output()
    assert code == STARTUP_FAILURE, output
    assert (
        "SetupError: handler 'forgets_its_parameter' does not take the path parameter "
        "'item_id'; add a parameter named 'item_id'" in output
    )


def test_lifespan_runs_in_order_and_shutdown_runs_on_sigint(
    serve: ServeApp, tmp_path: Path
) -> None:
    server = serve("tests.integration.apps:lifespan_app")
    events = tmp_path / "lifespan"
    assert lines_of(events) == ["lifespan entered", "startup"]
    # What the lifespan yielded reaches requests through the real server's lifespan state.
    assert httpx.get(f"{server.base_url}/state", timeout=5.0).json() == {"pool": "connected pool"}
    server.interrupt()
    assert server.wait() == 0, server.output()
    assert lines_of(events) == ["lifespan entered", "startup", "shutdown", "lifespan exited"]
    assert "Application shutdown complete." in server.output()


def test_sigint_lets_the_request_in_flight_finish_first(serve: ServeApp, tmp_path: Path) -> None:
    server = serve("tests.integration.apps:lifespan_app")
    events = tmp_path / "lifespan"
    with server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /wait HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        deadline = time.monotonic() + 5.0
        while "request started" not in lines_of(events) and time.monotonic() < deadline:
            time.sleep(0.02)
        server.interrupt()  # while the handler sleeps its 0.5 s
        response = reader.read()  # uvicorn closes the connection after this response
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b'{"waited":"yes"}')
    assert server.wait() == 0, server.output()
    assert lines_of(events)[2:] == [
        "request started", "request finished", "shutdown", "lifespan exited"
    ]


RUN_SCRIPT = """\
import os

from zephyr import Zephyr

app = Zephyr(__name__)


@app.get("/")
def home():
    return "served by {how}"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]){options})
"""


def test_app_run_serves_a_script(launch: ServerPool, tmp_path: Path) -> None:
    script = tmp_path / "serve_me.py"
    script.write_text(RUN_SCRIPT.format(how="app.run", options=""), encoding="utf-8")
    server = launch.start([sys.executable, str(script)], cwd=tmp_path)
    r = httpx.get(server.base_url, timeout=5.0)
    assert r.status_code == 200
    assert r.text == "served by app.run"
    server.interrupt()
    assert server.wait() == 0, server.output()


def test_app_run_with_reload_serves_reloads_and_stops_cleanly(
    launch: ServerPool, tmp_path: Path
) -> None:
    module = tmp_path / "reloadable.py"
    module.write_text(RUN_SCRIPT.format(how="version 1", options=", reload=True"),
                      encoding="utf-8")
    # `python -m` gives app.run() the import string the reloader's worker needs.
    server = launch.start([sys.executable, "-m", "reloadable"], cwd=tmp_path)
    wait_for_text(server, server.base_url, "served by version 1", timeout=10.0)
    # NOTE: uvicorn's reloader starts watching only after it spawned the worker, so the first
    # write can land before the watch exists: write again until the change is seen.
    for _ in range(4):
        module.write_text(RUN_SCRIPT.format(how="version 2", options=", reload=True"),
                          encoding="utf-8")
        if served(server.base_url, "served by version 2", timeout=3.0):
            break
    wait_for_text(server, server.base_url, "served by version 2", timeout=1.0)
    server.interrupt()
    assert server.wait(timeout=10.0) == 0, server.output()
    assert server.leftover_processes() == []
    assert "Started reloader process" in server.output()


def test_app_run_with_reload_refuses_an_app_it_cannot_import_again(tmp_path: Path) -> None:
    script = tmp_path / "inline.py"
    script.write_text(textwrap.dedent("""\
        from zephyr import Zephyr

        def main():
            app = Zephyr(__name__)
            app.run(host="127.0.0.1", port=1, reload=True)

        main()
    """), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        timeout=15.0, env=server_env(),
    )
    assert result.returncode == 1
    assert "cannot find an import string for <Zephyr '__main__' routes=0>" in result.stderr
    assert "create it as a module-level variable" in result.stderr



# -- where app.run listens ----------------------------------------------------------------

SETTINGS_SCRIPT = """\
from zephyr import Zephyr

app = Zephyr(__name__)

if __name__ == "__main__":
    app.run()
"""


def test_make_run_passes_its_port_to_the_showcase() -> None:
    # Not as a sub-make of `make test`, which would print its directory around the command.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "--no-print-directory", "run", "PORT=8001"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=15.0, check=True,
    )
    command = result.stdout.splitlines()[-1]
    assert command == "ZEPHYR_PORT=8001 .venv/bin/python -m examples.showcase"


def test_the_showcase_serves_on_the_port_setting(launch: ServerPool, tmp_path: Path) -> None:
    # What `make run PORT=...` runs; from another directory, so the reloader watches no checkout.
    server = launch.start(["env", "ZEPHYR_PORT={port}", sys.executable, "-m", "examples.showcase"],
                          cwd=tmp_path)
    r = httpx.get(server.base_url, timeout=5.0)
    assert r.status_code == 200
    assert "<h1>Zephyr</h1>" in r.text
    server.interrupt()
    assert server.wait(timeout=10.0) == 0, server.output()


def test_the_showcase_runs_outside_debug_mode_as_its_docstring_says(
    launch: ServerPool, tmp_path: Path
) -> None:
    import examples.showcase.app

    documented = textwrap.dedent(str(examples.showcase.app.__doc__).split("::\n", 1)[1]).strip()
    assert documented.startswith("ZEPHYR_DEBUG=0 ")
    assert documented.endswith("make run")
    command = documented.replace("make run", f"{sys.executable} -m examples.showcase")
    # Without the test suite's secret key: the command must bring its own.
    server = launch.start(["env", "-u", "ZEPHYR_SECRET_KEY", "ZEPHYR_PORT={port}",
                           "sh", "-c", command], cwd=tmp_path)
    assert httpx.get(f"{server.base_url}/api/entries", timeout=5.0).status_code == 200
    assert httpx.get(f"{server.base_url}/docs", timeout=5.0).status_code == 404  # not debug


@pytest.mark.parametrize(
    ("script", "command", "env", "hint"),
    [
        (None, ["-m", "examples.showcase"], {"ZEPHYR_PORT": "{port}"},
         "make run PORT={next} (or ZEPHYR_PORT={next})"),
        (SETTINGS_SCRIPT, ["app.py"], {"ZEPHYR_PORT": "{port}"},
         "ZEPHYR_PORT={next} (the PORT setting)"),
        (RUN_SCRIPT.format(how="app.run", options=""), ["app.py"], {},
         "app.run(port={next})"),
    ],
)
def test_a_busy_port_is_one_line_and_a_failed_exit(
    launch: ServerPool, tmp_path: Path, script: str | None, command: list[str],
    env: dict[str, str], hint: str,
) -> None:
    if script is not None:
        (tmp_path / "app.py").write_text(script, encoding="utf-8")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        process = launch.spawn([sys.executable, *command], port=port, cwd=tmp_path,
                               env={k: v.format(port=port) for k, v in env.items()})
        code = process.wait(timeout=15.0)
    assert (code, process.output()) == (1, f"port {port} is in use; stop the other server or "
                                           f"pick another port: {hint.format(next=port + 1)}\n")
