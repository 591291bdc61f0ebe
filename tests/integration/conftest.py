"""Real server processes for the integration tests: free loopback ports, bounded waits, cleanup.

``serve("tests.integration.apps:app", "--http", "h11")`` starts
``python -m uvicorn`` on a free port of 127.0.0.1 with the repository's
``src`` and root on ``PYTHONPATH``, waits until the port accepts connections
and stops the process (SIGINT, then SIGKILL) when the test ends. ``launch``
does the same for any command line that takes the port from ``{port}``.
Every process starts in its own session so that stopping it also stops the
children it spawned (uvicorn's reloader does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import TEST_SECRET_KEY
from tests.integration.apps import MARKERS_ENV

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 3


def free_port() -> int:
    """A TCP port on the loopback interface that the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server process: ``src`` and the repository importable.

    ``ZEPHYR_*`` settings of the developer's shell are dropped so that every
    server runs with the configuration its test chose (and the test secret key).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEPHYR_")}
    # Except a secret key, as every deployment has (outside debug mode apps refuse to start).
    env["ZEPHYR_SECRET_KEY"] = TEST_SECRET_KEY
    paths = [str(REPO / "src"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def uvicorn_command(target: str, *options: str) -> list[str]:
    """``python -m uvicorn target --host 127.0.0.1 --port {port} options...``."""
    return [sys.executable, "-m", "uvicorn", target, "--host", HOST, "--port", "{port}", *options]


@dataclass
class Server:
    """A running server process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    command: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr together)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def connect(self, timeout: float = 5.0) -> socket.socket:
        """A new TCP connection to the server, with ``timeout`` on every operation."""
        sock = socket.create_connection((HOST, self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock

    def interrupt(self) -> None:
        """Send SIGINT (Ctrl-C) to the process and its children."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit code, waiting at most ``timeout`` seconds; fails the test if it hangs."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"the server did not exit within {timeout} s; its output:\n{self.output()}"
            )

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the process."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGINT, a bounded wait for a clean exit, then SIGKILL for whatever is left."""
        if self.process.poll() is None:
            self.interrupt()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT)
        # Children (a reloader's worker) may outlive their parent: kill the group.
        self.kill()

    def leftover_processes(self, timeout: float = 3.0) -> list[str]:
        """Live processes of this server's group, waiting up to ``timeout`` for them to end.

        Zombies do not count: an orphan's exit is reaped by init, not by us.
        """
        deadline = time.monotonic() + timeout
        while (alive := _live_group_members(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return alive


def _live_group_members(pgid: int) -> list[str]:
    """``"pid: command"`` of each process in group ``pgid`` that is not a zombie (Linux)."""
    members = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text(encoding="latin-1")
            cmdline = (stat_path.parent / "cmdline").read_bytes()
        except OSError:
            continue  # it ended while we looked
        # Fields after the parenthesised command: state, ppid, pgrp, ...
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            command = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip()
            members.append(f"{stat_path.parent.name}: {command}")
    return members


class _PortTakenError(Exception):
    """Another process grabbed the free port before the server could bind it."""


def _wait_until_serving(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            output = server.output()
            if "address already in use" in output.lower():
                raise _PortTakenError
            pytest.fail(
                f"the server exited with code {server.process.returncode} before accepting "
                f"connections on port {server.port}\ncommand: {server.command}\n"
                f"output:\n{output}"
            )
        try:
            with socket.create_connection((HOST, server.port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(
                f"the server did not accept connections on port {server.port} within "
                f"{timeout} s\ncommand: {server.command}\noutput:\n{server.output()}"
            )
        time.sleep(0.05)


class ServerPool:
    """Starts server processes and stops every one of them at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.servers: list[Server] = []

    def spawn(
        self,
        command: Sequence[str],
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Server:
        """Start ``command`` (``{port}`` replaced) without waiting for it to serve."""
        port = free_port() if port is None else port
        argv = [part.replace("{port}", str(port)) for part in command]
        log_path = self.log_dir / f"server-{len(self.servers)}-{port}.log"
        full_env = server_env({"PORT": str(port), **(env or {})})
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=full_env, cwd=cwd or REPO, start_new_session=True,
            )
        server = Server(process, port, log_path, argv)
        self.servers.append(server)
        return server

    def start(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = START_TIMEOUT,
    ) -> Server:
        """Start ``command`` on a free port and wait until that port accepts connections."""
        for _ in range(PORT_ATTEMPTS):
            server = self.spawn(command, env=env, cwd=cwd)
            try:
                _wait_until_serving(server, timeout)
            except _PortTakenError:
                continue
            return server
        pytest.fail(f"no free port could be bound in {PORT_ATTEMPTS} attempts for {command}")

    def stop_all(self) -> None:
        """Stop every server started here (idempotent)."""
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def markers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's shared servers write their marker files."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="session")
def session_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    """Servers shared by the whole session."""
    pool = ServerPool(tmp_path_factory.mktemp("server-logs"))
    yield pool
    pool.stop_all()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[ServerPool]:
    """Servers that belong to one test: ``launch.start(command)`` / ``launch.spawn(command)``."""
    log_dir = tmp_path / "server-logs"
    log_dir.mkdir()
    pool = ServerPool(log_dir)
    yield pool
    pool.stop_all()


ServeApp = Callable[..., Server]


@pytest.fixture
def serve(launch: ServerPool, tmp_path: Path) -> ServeApp:
    """``serve(target, *uvicorn_options, env={...})``: one uvicorn process for this test.

    Its marker directory is the test's ``tmp_path``.
    """

    def start(target: str, *options: str, env: Mapping[str, str] | None = None) -> Server:
        return launch.start(
            uvicorn_command(target, *options), env={MARKERS_ENV: str(tmp_path), **(env or {})}
        )

    return start


@pytest.fixture(scope="session", params=["httptools", "h11"])
def any_server(
    request: pytest.FixtureRequest, session_pool: ServerPool, markers_dir: Path
) -> Server:
    """The main app served by uvicorn with each of its HTTP/1.1 implementations."""
    command = uvicorn_command("tests.integration.apps:app", "--http", request.param)
    return session_pool.start(command, env={MARKERS_ENV: str(markers_dir)})


@pytest.fixture(scope="session")
def server(session_pool: ServerPool, markers_dir: Path) -> Server:
    """The main app served by uvicorn with its default settings."""
    command = uvicorn_command("tests.integration.apps:app")
    return session_pool.start(command, env={MARKERS_ENV: str(markers_dir)})


# -- a real browser ---------------------------------------------------------------------------

#: Debian's Chromium (.ci/run installs it), never a browser downloaded by a tool.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
#: How long a page waits for what a test expects (a failing test fails this fast, not in 30 s).
BROWSER_TIMEOUT_MS = 5_000
#: Where a browser test keeps what takes a screenshot of its page when it fails.
SCREENSHOT = pytest.StashKey[Callable[[], str]]()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Chromium; the test skips without it, except under ZEPHYR_REQUIRE_SERVICES=1."""
    if CHROMIUM is None:
        if os.environ.get("ZEPHYR_REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is required (ZEPHYR_REQUIRE_SERVICES=1): apt-get install "
                        "chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """Chromium driven by Playwright (launched from Debian's binary: Playwright downloads none)."""
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Console:
    """What a page's console said, each line as ``type: text``."""

    lines: list[str] = field(default_factory=list)


@pytest.fixture
def console() -> Console:
    """The console of the test's ``page``, kept across its navigations."""
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console, request: pytest.FixtureRequest, tmp_path: Path
         ) -> Iterator[Page]:
    """A fresh page; its console is kept, and a screenshot is taken if the test fails."""
    context = browser.new_context()
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    opened = context.new_page()
    opened.on("console", lambda message: console.lines.append(f"{message.type}: {message.text}"))

    def screenshot() -> str:
        path = tmp_path / "failure.png"
        opened.screenshot(path=str(path), full_page=True)
        (tmp_path / "console.txt").write_text("\n".join(console.lines), encoding="utf-8")
        return f"{path} (console: {tmp_path / 'console.txt'})"

    request.node.stash[SCREENSHOT] = screenshot
    yield opened
    context.close()


@pytest.fixture(scope="session")
def showcase(session_pool: ServerPool) -> Server:
    """The showcase app (examples/showcase, in debug mode as ``make run`` serves it)."""
    return session_pool.start(uvicorn_command("examples.showcase.app:app"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test says where the screenshot of its page is."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    shoot = item.stash.get(SCREENSHOT, None)
    if report.when == "call" and report.failed and shoot is not None:
        report.sections.append(("screenshot", f"the page when the test failed: {shoot()}"))
