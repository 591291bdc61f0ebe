"""Config: defaults < settings module/file/mapping < ZEPHYR_* environment < keyword."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from zephyr import Config, ConfigError, Setting, Zephyr
from zephyr.config import DEFAULT_SETTINGS
from zephyr.testing import TestClient

NO_ENV: dict[str, str] = {}


def settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                    source: str) -> str:
    """Write ``source`` as module ``name`` importable from a temporary directory."""
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_defaults() -> None:
    config = Config(environ=NO_ENV)
    assert config.as_dict() == {s.name: s.default for s in DEFAULT_SETTINGS}
    assert (config["DEBUG"], config["THREAD_POOL_SIZE"], config["SECRET_KEY"]) == (
        False, 40, None,
    )
    assert all(config.source_of(name) == "default" for name in config)
    assert len(config) == len(DEFAULT_SETTINGS)


def test_settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = settings_module(tmp_path, monkeypatch, "zephyr_test_settings_ok", (
        "import os\n"
        "DEBUG = True\n"
        "THREAD_POOL_SIZE = 8\n"
        "helper = 'lower-case names are not settings'\n"
        "_PRIVATE = 'neither are private ones'\n"
    ))
    config = Config(settings=name, environ=NO_ENV)
    assert (config["DEBUG"], config["THREAD_POOL_SIZE"]) == (True, 8)
    assert config.source_of("DEBUG") == "settings module zephyr_test_settings_ok"
    assert config.source_of("MAX_BODY_SIZE") == "default"


def test_settings_py_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text("REDIRECT_STATUS = 301\nSERVER = 'granian'\n")
    config = Config(settings=path, environ=NO_ENV)
    assert (config["REDIRECT_STATUS"], config["SERVER"]) == (301, "granian")
    assert config.source_of("SERVER") == f"settings file {path}"


def test_settings_toml_file_names_are_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "zephyr.toml"
    path.write_text('debug = true\nSECRET_KEY = "from-toml"\nmax_json_size = 2048\n')
    config = Config(settings=str(path), environ=NO_ENV)
    assert (config["DEBUG"], config["SECRET_KEY"], config["MAX_JSON_SIZE"]) == (
        True, "from-toml", 2048,
    )
    assert config.source_of("DEBUG") == f"settings file {path}"


def test_settings_mapping() -> None:
    config = Config(settings={"DEBUG": True}, environ=NO_ENV)
    assert config["DEBUG"] is True
    assert config.source_of("DEBUG") == "settings mapping"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "zephyr_no_such_settings_module",
         "settings module 'zephyr_no_such_settings_module' cannot be imported (No module named "
         "'zephyr_no_such_settings_module'); give a module on sys.path like "
         "'myproject.settings', or the path of a .py or .toml file"),
        (lambda tmp: str(tmp / "missing.toml"),
         "settings file '{tmp}/missing.toml' does not exist"),
        (lambda tmp: str(tmp / "missing.py"),
         "settings file '{tmp}/missing.py' does not exist"),
    ],
)
def test_a_missing_settings_source_is_a_config_error(
    tmp_path: Path, make: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Config(settings=make(tmp_path), environ=NO_ENV)
    assert str(info.value) == message.format(tmp=tmp_path)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("debug = \n")
    with pytest.raises(ConfigError, match=r"is not valid TOML: Invalid value \(at line 1"):
        Config(settings=path, environ=NO_ENV)


def test_a_settings_module_importing_something_missing_shows_that_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = settings_module(tmp_path, monkeypatch, "zephyr_test_settings_broken",
                           "import zephyr_not_installed_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="zephyr_not_installed_dependency"):
        Config(settings=name, environ=NO_ENV)


# -- environment ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("0", False), ("true", True), ("false", False), ("yes", True),
     ("no", False), ("TRUE", True), (" on ", True), ("off", False)],
)
def test_environment_booleans(raw: str, value: bool) -> None:
    config = Config(environ={"ZEPHYR_DEBUG": raw})
    assert config["DEBUG"] is value
    assert config.source_of("DEBUG") == "environment ZEPHYR_DEBUG"


def test_environment_ints_and_strings() -> None:
    config = Config(environ={"ZEPHYR_THREAD_POOL_SIZE": "12", "ZEPHYR_SECRET_KEY": "k"})
    assert (config["THREAD_POOL_SIZE"], config["SECRET_KEY"]) == (12, "k")


LIST_AND_FLOAT = (
    Setting("ALLOWED_HOSTS", list, ["localhost"], "Hosts served."),
    Setting("RATIO", float, 0.5, "A fraction."),
)


def test_environment_comma_lists_and_floats() -> None:
    config = Config(
        environ={"ZEPHYR_ALLOWED_HOSTS": " example.com, api.example.com ,,", "ZEPHYR_RATIO": "2"},
        definitions=LIST_AND_FLOAT,
    )
    assert config["ALLOWED_HOSTS"] == ["example.com", "api.example.com"]
    assert config["RATIO"] == 2.0


def test_list_and_float_settings_take_matching_values() -> None:
    config = Config(environ=NO_ENV, definitions=LIST_AND_FLOAT,
                    overrides={"allowed_hosts": ("a.example",), "ratio": 1})
    assert (config["ALLOWED_HOSTS"], config["RATIO"]) == (("a.example",), 1)
    with pytest.raises(ConfigError, match="setting RATIO must be a number, got True"):
        Config(environ=NO_ENV, definitions=LIST_AND_FLOAT, overrides={"ratio": True})


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("ZEPHYR_DEBUG", "maybe", "setting DEBUG must be a boolean, cannot parse environment "
         "ZEPHYR_DEBUG='maybe'; use 1/0/true/false"),
        ("ZEPHYR_THREAD_POOL_SIZE", "many", "setting THREAD_POOL_SIZE must be an integer, "
         "cannot parse environment ZEPHYR_THREAD_POOL_SIZE='many'"),
        ("ZEPHYR_MAX_BODY_SIZE", "1.5", "setting MAX_BODY_SIZE must be an integer, cannot "
         "parse environment ZEPHYR_MAX_BODY_SIZE='1.5'"),
    ],
)
def test_bad_environment_values_name_the_variable_and_type(
    variable: str, raw: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Config(environ={variable: raw})
    assert str(info.value) == message


def test_bad_float_environment_value() -> None:
    with pytest.raises(ConfigError, match="setting RATIO must be a number, cannot parse "
                       "environment ZEPHYR_RATIO='half'"):
        Config(environ={"ZEPHYR_RATIO": "half"}, definitions=LIST_AND_FLOAT)


def test_other_zephyr_variables_in_the_environment_are_ignored() -> None:
    config = Config(environ={"ZEPHYR_REQUIRE_SERVICES": "1", "DEBUG": "1"})
    assert config["DEBUG"] is False


def _ignored(name: str, meant: str) -> str:
    return (f"environment variable {name} is not a Zephyr setting and is ignored; "
            f"did you mean {meant}?")


@pytest.mark.parametrize(
    ("environ", "warnings"),
    [
        ({"ZEPHYR_DEBGU": "1"}, [_ignored("ZEPHYR_DEBGU", "ZEPHYR_DEBUG")]),
        ({"ZEPHYR_SECRETKEY": "k", "ZEPHYR_GC_FREZE": "0", "ZEPHYR_debug": "1"}, [
            _ignored("ZEPHYR_GC_FREZE", "ZEPHYR_GC_FREEZE"),
            _ignored("ZEPHYR_SECRETKEY", "ZEPHYR_SECRET_KEY"),
            _ignored("ZEPHYR_debug", "ZEPHYR_DEBUG"),
        ]),
        # Real settings, as the test suite sets them.
        ({"ZEPHYR_SECRET_KEY": "k", "ZEPHYR_GC_FREEZE": "0", "ZEPHYR_PORT": "8001"}, []),
        # Other tools share the prefix (the test suite, the Zephyr RTOS): like no setting.
        ({"ZEPHYR_REQUIRE_SERVICES": "1", "ZEPHYR_BASE": "/opt/zephyrproject",
          "ZEPHYR_SDK_INSTALL_DIR": "/opt/zephyr-sdk"}, []),
        ({"DEBGU": "1", "TEST_REDIS_DB": "6"}, []),  # outside the namespace
    ],
)
def test_a_misspelt_environment_variable_is_named_with_the_setting_it_resembles(
    environ: dict[str, str], warnings: list[str]
) -> None:
    assert Config(environ=environ).environment_warnings() == warnings


def test_the_app_warns_about_a_misspelt_variable_once_when_it_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ZEPHYR_DEBGU", "1")
    app = Zephyr()
    with caplog.at_level(logging.WARNING, logger="zephyr"):
        with TestClient(app):
            pass
        with TestClient(app):  # the same app started again: already said
            pass
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("zephyr", logging.WARNING, _ignored("ZEPHYR_DEBGU", "ZEPHYR_DEBUG")),
    ]


def test_the_app_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEPHYR_DEBUG", "yes")
    monkeypatch.setenv("ZEPHYR_THREAD_POOL_SIZE", "3")
    app = Zephyr()
    assert (app.debug, app.config["THREAD_POOL_SIZE"]) == (True, 3)


# -- precedence ------------------------------------------------------------------------------


def test_precedence_default_settings_env_keyword(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = settings_module(tmp_path, monkeypatch, "zephyr_test_settings_precedence", (
        "THREAD_POOL_SIZE = 10\nMAX_JSON_SIZE = 10\nMAX_FORM_SIZE = 10\n"
    ))
    config = Config(
        settings=name,
        environ={"ZEPHYR_MAX_JSON_SIZE": "20", "ZEPHYR_MAX_FORM_SIZE": "20"},
        overrides={"max_form_size": 30},
    )
    assert (config["MAX_BODY_SIZE"], config.source_of("MAX_BODY_SIZE")) == (1024 * 1024,
                                                                            "default")
    assert (config["THREAD_POOL_SIZE"], config.source_of("THREAD_POOL_SIZE")) == (
        10, f"settings module {name}",
    )
    assert (config["MAX_JSON_SIZE"], config.source_of("MAX_JSON_SIZE")) == (
        20, "environment ZEPHYR_MAX_JSON_SIZE",
    )
    assert (config["MAX_FORM_SIZE"], config.source_of("MAX_FORM_SIZE")) == (
        30, "keyword argument",
    )


def test_zephyr_passes_settings_and_keywords_to_its_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZEPHYR_SERVER", "granian")
    app = Zephyr(settings={"SERVER": "uvicorn", "DEBUG": True}, debug=False)
    assert (app.config["SERVER"], app.config["DEBUG"]) == ("granian", False)


# -- refused values ----------------------------------------------------------------------


def test_unknown_names_in_a_settings_module_suggest_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = settings_module(tmp_path, monkeypatch, "zephyr_test_settings_typo",
                           "THREAD_POOL_SIZ = 4\n")
    with pytest.raises(ConfigError) as info:
        Config(settings=name, environ=NO_ENV)
    assert str(info.value) == (
        "unknown setting 'THREAD_POOL_SIZ' (from settings module zephyr_test_settings_typo); "
        "did you mean 'THREAD_POOL_SIZE'?"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"debgu": True}, "unknown setting 'DEBGU' (from keyword argument); did you mean "
         "'DEBUG'?"),
        ({"flux_capacitor": 1}, "unknown setting 'FLUX_CAPACITOR' (from keyword argument)"),
    ],
)
def test_unknown_keywords_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Zephyr(**overrides)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"THREAD_POOL_SIZE": "8"}, "setting THREAD_POOL_SIZE must be an integer, got '8' from "
         "settings mapping"),
        ({"THREAD_POOL_SIZE": True}, "setting THREAD_POOL_SIZE must be an integer, got True "
         "from settings mapping"),
        ({"DEBUG": "yes"}, "setting DEBUG must be a boolean, got 'yes' from settings mapping"),
        ({"DEBUG": None}, "setting DEBUG must be a boolean, got None from settings mapping"),
        ({"SECRET_KEY": 42}, "setting SECRET_KEY must be a string or None, got 42 from "
         "settings mapping"),
    ],
)
def test_wrong_types_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(settings=settings, environ=NO_ENV)
    assert str(info.value) == message


def test_wrong_keyword_types_are_refused() -> None:
    with pytest.raises(ConfigError, match="setting DEBUG must be a boolean, got 'false' from "
                       "keyword argument"):
        Zephyr(debug="false")


# -- reading and changing ----------------------------------------------------------------


def test_explain_shows_values_and_sources_and_masks_secrets() -> None:
    config = Config(environ={"ZEPHYR_DEBUG": "1"}, overrides={"secret_key": "hunter2-secret"})
    table = config.explain()
    lines = table.splitlines()
    assert re.fullmatch(r"setting +value +source", lines[0])
    assert len(lines) == len(DEFAULT_SETTINGS) + 1
    assert re.search(r"^DEBUG +True +environment ZEPHYR_DEBUG$", table, re.MULTILINE)
    assert re.search(r"^SECRET_KEY +\*{8} +keyword argument$", table, re.MULTILINE)
    assert re.search(r"^THREAD_POOL_SIZE +40 +default$", table, re.MULTILINE)
    assert "hunter2" not in table
    assert [line.split()[0] for line in lines[1:]] == sorted(config)


def test_explain_cuts_long_values() -> None:
    [line] = [line for line in Config(environ=NO_ENV).explain().splitlines()
              if line.startswith("CONTENT_SECURITY_POLICY")]
    shown = line.removeprefix("CONTENT_SECURITY_POLICY").removesuffix("default").strip()
    assert (len(shown), shown[-1]) == (60, "…")
    assert shown.startswith('"default-src \'self\'; script-src')


def test_explain_shows_an_unset_secret_as_none() -> None:
    assert re.search(r"^SECRET_KEY +None +default$", Config(environ=NO_ENV).explain(),
                     re.MULTILINE)


def test_source_of_an_unknown_setting() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'DEBGU' \(from lookup\); did you "
                       "mean 'DEBUG'"):
        Config(environ=NO_ENV).source_of("DEBGU")


def test_as_dict_is_a_copy() -> None:
    config = Config(environ=NO_ENV)
    values = config.as_dict()
    values["DEBUG"] = True
    assert config["DEBUG"] is False
    assert dict(config) == config.as_dict()


def test_assignment_before_freeze_is_checked_and_recorded() -> None:
    config = Config(environ=NO_ENV)
    config["THREAD_POOL_SIZE"] = 4
    assert (config["THREAD_POOL_SIZE"], config.source_of("THREAD_POOL_SIZE")) == (4, "assignment")
    with pytest.raises(ConfigError, match="must be an integer, got 'four' from assignment"):
        config["THREAD_POOL_SIZE"] = "four"
    with pytest.raises(ConfigError, match=r"unknown setting 'THREADS' \(from assignment\)"):
        config["THREADS"] = 4


def test_freeze_refuses_changes() -> None:
    config = Config(environ=NO_ENV)
    config.freeze()
    with pytest.raises(ConfigError) as info:
        config["DEBUG"] = True
    assert str(info.value) == (
        "cannot change 'DEBUG': the app has started serving and its settings are fixed; set it "
        "before startup (keyword argument, settings module or env)"
    )
    assert config["DEBUG"] is False


@pytest.mark.parametrize(
    ("overrides", "environ", "message"),
    [
        ({"redirect_status": 303}, NO_ENV,
         "setting REDIRECT_STATUS must be one of 301, 302, 307, 308, got 303 from keyword "
         "argument"),
        ({}, {"ZEPHYR_SERVER": "gunicorn"},
         "setting SERVER must be one of 'uvicorn', 'granian', got 'gunicorn' from environment "
         "ZEPHYR_SERVER"),
    ],
)
def test_settings_with_choices_refuse_other_values(
    overrides: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Config(environ=environ, overrides=overrides)
    assert str(info.value) == message


def test_the_public_view_leaves_secrets_out_and_follows_changes() -> None:
    config = Config(environ={}, overrides={"secret_key": "k" * 40, "debug": False})
    public = config.public()
    secrets = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "REDIS_URL"}
    assert set(public) == set(config) - secrets
    assert len(public) == len(config) - len(secrets)
    assert "SECRET_KEY" not in public
    with pytest.raises(KeyError):
        public["SECRET_KEY"]
    config["DEBUG"] = True
    assert public["DEBUG"] is True


def test_secrets_gives_the_secret_settings_with_their_values() -> None:
    config = Config(environ={}, overrides={"secret_key": "k" * 40,
                                           "secret_key_fallbacks": ["o" * 40]})
    assert config.secrets() == {"SECRET_KEY": "k" * 40, "SECRET_KEY_FALLBACKS": ["o" * 40],
                                "REDIS_URL": "redis://127.0.0.1:6379/0"}
