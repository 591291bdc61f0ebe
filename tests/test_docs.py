"""Every Python block in docs/ and README.md runs as written, so the guide stays true.

A block runs as its own script (not as ``__main__``), in a directory shared
by the blocks of its page. Two HTML comments on the line before a block change that:
``<!-- file: NAME.py -->`` saves it as NAME.py for later blocks to import (a
``test_*.py`` file is run with pytest), and ``<!-- not run -->`` only
compiles it (for blocks that start a server). A block in another language with
``<!-- file: PATH -->`` before it (a template: ``<!-- file: templates/page.html -->``)
is saved at PATH for the blocks after it.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
_FILE_MARKER = re.compile(r"<!-- file: (\S+\.py) -->")
# `from zephyr[.module] import A, B` or `import (A,\n B)`, in a block or in the prose.
_IMPORT = re.compile(r"from (zephyr(?:\.\w+)*) import (?:\(([^)]*)\)|(\w+(?:, *\w+)*))")
_DATA_MARKER = re.compile(r"<!-- file: (\S+) -->")


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of a page (or a file another language's block saves)."""

    line: int
    code: str
    filename: str | None
    run: bool
    is_python: bool = True


def blocks_of(page: Path) -> list[Block]:
    """The ``python`` blocks of ``page`` with the marker that precedes each, and the blocks
    of other languages that a ``file:`` marker saves."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = lines[index].strip()
        marker = lines[index - 1].strip() if index else ""
        data = _DATA_MARKER.fullmatch(marker)
        if fence == "```python" or (fence.startswith("```") and fence != "```" and data):
            end = lines.index("```", index + 1)
            is_python = fence == "```python"
            named = _FILE_MARKER.fullmatch(marker) if is_python else data
            found.append(
                Block(
                    line=index + 1,
                    code="\n".join(lines[index + 1 : end]) + "\n",
                    filename=named.group(1) if named else None,
                    run=marker != "<!-- not run -->",
                    is_python=is_python,
                )
            )
            index = end
        index += 1
    return found


def _save(block: Block, workdir: Path) -> None:
    """Write a non-Python block where its marker says, for the blocks after it."""
    path = workdir / str(block.filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.code)


def _run(block: Block, number: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    name = block.filename or f"block_{number}.py"
    script = workdir / name
    script.write_text(block.code)
    if not block.run:
        command = [sys.executable, "-c", f"compile(open({name!r}).read(), {name!r}, 'exec')"]
    elif name.startswith("test_"):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
    else:
        # Not as __main__: a page's `if __name__ == "__main__": app.run()` must not serve.
        run = f"import runpy; runpy.run_path({name!r}, run_name='docs_example')"
        command = [sys.executable, "-W", "error", "-c", run]
    # The docs show defaults: no ZEPHYR_* setting of the developer's shell may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEPHYR_")}
    # Except a secret key, as every deployment has (outside debug mode apps refuse to start).
    env["ZEPHYR_SECRET_KEY"] = TEST_SECRET_KEY
    env["PYTHONPATH"] = os.pathsep.join([str(workdir), str(ROOT / "src")])
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_block_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    blocks = blocks_of(page)
    failures = []
    for number, block in enumerate(blocks, start=1):
        if not block.is_python:
            _save(block, tmp_path)
            continue
        result = _run(block, number, tmp_path)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-2000:]
            failures.append(f"{page.name}:{block.line} exited {result.returncode}:\n{output}")
    assert not failures, "\n\n".join(failures)


def test_the_pages_have_blocks_to_check() -> None:
    assert sum(len(blocks_of(page)) for page in PAGES) >= 40


def test_every_name_the_pages_import_from_zephyr_is_there() -> None:
    # Blocks that run would fail on a missing name, but not prose, text or not-run blocks.
    missing = []
    for page in PAGES:
        for match in _IMPORT.finditer(page.read_text()):
            module = importlib.import_module(match.group(1))
            for item in (match.group(2) or match.group(3)).split(","):
                name = item.split(" as ")[0].strip()
                if name and not hasattr(module, name):
                    missing.append(f"{page.name}: from {match.group(1)} import {name}")
    assert missing == []


def test_the_index_says_where_each_name_lives() -> None:
    import zephyr

    text = (ROOT / "docs" / "index.md").read_text()
    daily = text.split("`from zephyr import ...` gives", 1)[1].split("Everything else", 1)[0]
    assert set(re.findall(r"`(\w+)`", daily)) == set(zephyr.__all__)
    rows = re.findall(r"^\| `(zephyr\.\w+)` \| (.*) \|$", text, flags=re.MULTILINE)
    assert len(rows) >= 8
    for module_name, holds in rows:
        module = importlib.import_module(module_name)
        for name in re.findall(r"`(\w+)`", holds):
            assert hasattr(module, name), f"{module_name} has no {name}"


# Where each feature the index lists as coming will live (docs/architecture.md).
COMING = {
    "WebSockets": "zephyr.websockets",
    "The `zephyr` command line": "zephyr.cli",
}


def test_what_the_index_says_is_coming_is_not_there_yet() -> None:
    import importlib.util

    coming = (ROOT / "docs" / "index.md").read_text().split("## Coming in later releases")[1]
    for feature in re.findall(r"^- \*\*(.+?)\*\*", coming, flags=re.MULTILINE):
        assert feature in COMING, f"where will {feature!r} live? add it to COMING"
        assert importlib.util.find_spec(COMING[feature]) is None, (
            f"docs/index.md lists {feature!r} as coming, but {COMING[feature]} exists: "
            "describe it where it is documented and take it off the list"
        )


def test_the_routing_page_lists_every_route_option() -> None:
    from zephyr._route import ROUTE_OPTIONS

    text = (ROOT / "docs" / "routing.md").read_text()
    table = text.split("| option | default | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = {name for row in table.splitlines()[1:]
              for name in re.findall(r"`(\w+)`", row.split(" | ")[0])}
    assert listed == ROUTE_OPTIONS | {"name", "replace"}


def test_a_block_of_another_language_is_saved_where_its_marker_says(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("\n".join([
        "<!-- file: templates/hi.html -->", "```html", "<p>{{ name }}</p>", "```",
        "```html", "<p>not saved</p>", "```",
        "```python", "from pathlib import Path",
        "assert Path('templates/hi.html').read_text() == '<p>{{ name }}</p>\\n'", "```",
    ]))
    blocks = blocks_of(page)
    assert [(b.filename, b.is_python) for b in blocks] == [("templates/hi.html", False),
                                                           (None, True)]
    _save(blocks[0], tmp_path)
    assert _run(blocks[1], 2, tmp_path).returncode == 0
