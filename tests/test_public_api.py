"""The public API: what `import zephyr` offers, and what it does not drag in."""

import subprocess
import sys

import zephyr


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions: the order ruff's RUF022 keeps."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_importable() -> None:
    assert zephyr.__all__ == sorted(zephyr.__all__, key=_isort_key)
    for name in zephyr.__all__:
        assert getattr(zephyr, name) is not None, name


def test_importing_zephyr_imports_no_extra() -> None:
    code = (
        "import sys, zephyr; "
        "extras = ('sqlalchemy', 'alembic', 'redis', 'pydantic', 'httpx', 'opentelemetry', "
        "'granian', 'asyncpg', 'aiosqlite'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(extras)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_module_has_a_docstring() -> None:
    import pkgutil

    for info in pkgutil.walk_packages(zephyr.__path__, "zephyr."):
        module = __import__(info.name, fromlist=["_"])
        assert module.__doc__, f"{info.name} has no module docstring"
