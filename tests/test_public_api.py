"""The public API: what `import zephyr` offers, and what it does not drag in."""

import subprocess
import sys
from types import ModuleType

import pytest

import zephyr
import zephyr.errors
import zephyr.security


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions: the order ruff's RUF022 keeps."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("package", [zephyr, zephyr.security], ids=lambda p: p.__name__)
def test_all_is_sorted_and_importable(package: ModuleType) -> None:
    assert package.__all__ == sorted(package.__all__, key=_isort_key)
    for name in package.__all__:
        assert getattr(package, name) is not None, name


@pytest.mark.parametrize("name", ["BackgroundTasks", "Depends", "Request", "UploadFile"])
def test_the_names_handlers_take_are_daily_names(name: str) -> None:
    assert name in zephyr.__all__


def test_importing_zephyr_imports_no_extra() -> None:
    code = (
        "import sys, zephyr; "
        "extras = ('sqlalchemy', 'alembic', 'redis', 'pydantic', 'httpx', 'opentelemetry', "
        "'granian', 'asyncpg', 'aiosqlite', 'argon2', 'jwt', 'cryptography'); "
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


def test_zephyr_works_without_any_extra_installed() -> None:
    # None in sys.modules makes an import fail as if the package were not installed.
    code = (
        "import sys\n"
        "for name in ('sqlalchemy', 'alembic', 'redis', 'pydantic', 'httpx', 'opentelemetry', "
        "'granian', 'asyncpg', 'aiosqlite', 'argon2', 'jwt', 'cryptography', "
        "'openapi_ui_bundles'):\n"
        "    sys.modules[name] = None\n"
        "import zephyr, zephyr.security\n"
        "app = zephyr.Zephyr(secret_key='abcdefghijklmnopqrstuvwxyz0123456789')\n"
        "app._go_live()\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


@pytest.mark.parametrize("name", sorted(zephyr._ELSEWHERE))
def test_names_outside_all_resolve_from_their_module(name: str) -> None:
    import importlib

    module = importlib.import_module(zephyr._ELSEWHERE[name])
    assert getattr(zephyr, name) is getattr(module, name)
    assert name in module.__all__


@pytest.mark.parametrize("name", sorted(set(zephyr.errors.__all__) - set(zephyr.__all__)))
def test_every_exception_resolves_from_zephyr_too(name: str) -> None:
    # The docs send readers to zephyr.errors, and older code imports them from zephyr.
    namespace: dict[str, object] = {}
    exec(f"from zephyr import {name}", namespace)  # noqa: S102 - the statement users write
    assert namespace[name] is getattr(zephyr.errors, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'zephyr' has no attribute 'Zepyhr'"):
        _ = zephyr.Zepyhr  # type: ignore[attr-defined]
