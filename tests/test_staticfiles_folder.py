"""Which files a static folder serves (never one outside it), hashed names, and registration."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import SECRET, STATIC_CSS, asgi_get
from zephyr import Request, Zephyr, static_url
from zephyr.errors import ContextError, SetupError, URLBuildError
from zephyr.staticfiles import build_manifest, hashed_name
from zephyr.testing import TestClient

ESCAPES = [
    b"/static/../secret.txt",
    b"/static/sub/../../secret.txt",
    b"/static/%2e%2e/secret.txt",
    b"/static/%2E%2E/secret.txt",
    b"/static/..%2fsecret.txt",
    b"/static/%2e%2e%2fsecret.txt",
    b"/static/sub%2f..%2f..%2fsecret.txt",
    b"/static/..%5csecret.txt",
    b"/static/..\\secret.txt",
    b"/static/sub\\..\\..\\secret.txt",
    b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd",
    b"/static/C:/Windows/win.ini",
    b"/static/c:%5cwindows%5cwin.ini",
    b"/static/app.css%00",
    b"/static/app.css%00.png",
    b"/static/escape.txt",  # a symlink to ../secret.txt
    b"/static/linkdir/secret.txt",  # a symlinked directory leading out
    b"/static/.env",
    b"/static/%2eenv",
    b"/static/.git/config",
    b"/static/sub/.",
    b"/static/sub",  # a directory
    b"/static/sub/",
    b"/static/",
    b"/static/./app.css",
]


def call(app: Zephyr, raw_path: bytes) -> tuple[int, bytes]:
    """The status and body of ``GET raw_path``."""
    sent = asgi_get(app, raw_path)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("debug", [False, True], ids=["indexed", "debug-disk"])
@pytest.mark.parametrize("raw_path", ESCAPES)
def test_never_a_byte_from_outside_the_folder(static_site: Path, raw_path: bytes,
                                              debug: bool) -> None:
    app = Zephyr(__name__, root_path=static_site, debug=debug)
    status, body = call(app, raw_path)
    assert status == 404, raw_path
    assert SECRET not in body
    assert b"SECRET_KEY" not in body
    assert b"[core]" not in body


@pytest.mark.parametrize("debug", [False, True], ids=["indexed", "debug-disk"])
def test_a_symlink_that_stays_inside_is_served(static_site: Path, debug: bool) -> None:
    app = Zephyr(__name__, root_path=static_site, debug=debug)
    assert call(app, b"/static/alias.css") == (200, STATIC_CSS)
    assert call(app, b"/static/sub/deep.txt") == (200, b"deep\n")


def test_in_debug_a_new_file_is_served_without_restart(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site, debug=True)
    with TestClient(app) as client:
        assert client.get("/static/new.css").status_code == 404
        (static_site / "static" / "new.css").write_text("a {}")
        assert client.get("/static/new.css").text == "a {}"


def test_outside_debug_the_files_are_those_indexed_at_startup(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with TestClient(app) as client:
        (static_site / "static" / "new.css").write_text("a {}")
        assert client.get("/static/new.css").status_code == 404
        (static_site / "static" / "app.css").unlink()
        assert client.get("/static/app.css").status_code == 404


# -- hashed names and the manifest ---------------------------------------------------------


@pytest.mark.parametrize(("name", "hashed"), [
    ("app.css", "app.3f2a9c1e.css"),
    ("css/site.min.css", "css/site.min.3f2a9c1e.css"),
    ("archive.tar.gz", "archive.tar.3f2a9c1e.gz"),
    ("LICENSE", "LICENSE.3f2a9c1e"),
])
def test_hashed_names(name: str, hashed: str) -> None:
    assert hashed_name(name, "3f2a9c1e00ff") == hashed


def test_the_manifest_lists_every_servable_file(static_site: Path) -> None:
    manifest = build_manifest(static_site / "static")
    digest = hashlib.sha256(STATIC_CSS).hexdigest()[:8]
    assert manifest["app.css"] == f"app.{digest}.css"
    assert manifest["alias.css"] == f"alias.{digest}.css"
    assert manifest["sub/deep.txt"].startswith("sub/deep.")
    assert sorted(manifest) == [
        "LICENSE", "alias.css", "app.css", "app.js", "big.bin", "data.json", "font.woff2",
        "icon.svg", "index.html", "logo.png", "sub/deep.txt"]  # no dotfile, no way out


def test_a_missing_folder_has_an_empty_manifest(tmp_path: Path) -> None:
    assert build_manifest(tmp_path / "nowhere") == {}


@pytest.mark.parametrize("name", ["LICENSE", "sub/deep.txt", "app.js"])
def test_every_hashed_url_is_served(static_site: Path, name: str) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with TestClient(app) as client:
        response = client.get(app.static_url(name))
    assert response.content == (static_site / "static" / name).read_bytes()


def test_a_file_named_like_a_hashed_name_is_served_as_it_is(static_site: Path) -> None:
    (static_site / "static" / "lib.0123abcd.js").write_text("vendored")
    with TestClient(Zephyr(__name__, root_path=static_site)) as client:
        assert client.get("/static/lib.0123abcd.js").text == "vendored"


@pytest.mark.parametrize(("filename", "message"), [
    ("nope.css", "there is no file 'nope.css' in the static folder"),
    ("../secret.txt", "there is no file '../secret.txt'"),
    (".env", "there is no file '.env'"),
])
def test_static_url_of_an_unknown_file(static_site: Path, filename: str, message: str) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with pytest.raises(URLBuildError, match=message):
        app.static_url(filename)


def test_static_url_of_an_unknown_folder(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with pytest.raises(URLBuildError, match=r"no static folder named 'media' \(folders: static\)"):
        app.static_url("app.css", folder="media")


# -- registration ---------------------------------------------------------------------------


def test_the_default_folder_and_its_url_path(static_site: Path) -> None:
    moved = Zephyr(__name__, root_path=static_site, static_url_path="/assets")
    with TestClient(moved) as client:
        assert client.get("/assets/app.css").content == STATIC_CSS
        assert client.get("/static/app.css").status_code == 404
    assert moved.static_url("app.css").startswith("/assets/app.")


def test_no_static_folder(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site, static_folder=None)
    assert app.routes == ()
    with TestClient(app) as client:
        assert client.get("/static/app.css").status_code == 404


def test_a_missing_default_folder_is_no_error(tmp_path: Path) -> None:
    app = Zephyr(__name__, root_path=tmp_path)
    assert app.routes == ()
    assert app.static_folders == {}


def test_the_app_root_is_its_module_folder() -> None:
    assert Zephyr(__name__).root_path == str(Path(__file__).parent)


def test_more_folders_and_group_folders(static_site: Path) -> None:
    (static_site / "media").mkdir()
    (static_site / "media" / "photo.png").write_bytes(b"png")
    app = Zephyr(__name__, root_path=static_site)
    app.static("/media", "media")
    admin = app.group("/admin", name="admin")
    admin.static("/static", static_site / "static")

    @app.get("/page")
    async def page(request: Request) -> dict[str, str]:
        return {"app": static_url("app.css"), "photo": request.static_url("photo.png",
                                                                          folder="media"),
                "admin": static_url("app.js", folder="admin.static")}

    with TestClient(app, root_path="/site") as client:  # the app is served under /site
        urls = client.get("/page").json()
        assert client.get(app.static_url("photo.png", folder="media")).text == "png"
        assert client.get("/admin/static/app.css").content == STATIC_CSS
    assert urls["app"].startswith("/site/static/app.")
    assert urls["photo"].startswith("/site/media/photo.")
    assert urls["admin"].startswith("/site/admin/static/app.")
    assert sorted(app.static_folders) == ["admin.static", "media", "static"]


def test_static_url_outside_a_request() -> None:
    with pytest.raises(ContextError, match=r"call app.static_url\(filename\) on your app"):
        static_url("app.css")


def test_a_missing_folder_is_refused_at_registration(tmp_path: Path) -> None:
    app = Zephyr(__name__, root_path=tmp_path)
    with pytest.raises(SetupError, match=r"static folder .*nowhere.* is not a directory"):
        app.static("/files", "nowhere")


def test_a_folder_cannot_be_added_while_serving(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site, static_folder=None)
    with TestClient(app), pytest.raises(SetupError, match="cannot add a static folder after"):
        app.static("/static", "static")


def test_a_route_that_clashes_with_the_default_folder(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with pytest.raises(SetupError, match="conflicts with '/static/<path:filename>'"):
        app.get("/static/<path:anything>")(lambda anything: anything)


def test_static_routes_stay_out_of_the_openapi_document(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site, openapi=True)
    with TestClient(app) as client:
        assert client.get("/openapi.json").json()["paths"] == {}


def test_indexed_files_are_found_with_one_dict_lookup(static_site: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app = Zephyr(__name__, root_path=static_site)
    with TestClient(app) as client:
        hashed = app.static_url("sub/deep.txt")
        monkeypatch.setattr("zephyr.routing.descend", None)  # no walk of the route tree
        assert client.get("/static/app.css").content == STATIC_CSS
        assert client.get(hashed).text == "deep\n"
        assert client.head("/static/logo.png").status_code == 200


def test_routes_under_the_prefix_keep_their_precedence(static_site: Path) -> None:
    app = Zephyr(__name__, root_path=static_site)

    @app.get("/static/app.css")
    async def exact() -> str:
        return "the route"

    @app.get("/static/{name}")
    async def one_segment(name: str) -> str:  # a str parameter ranks before a path one
        return f"param {name}"

    with TestClient(app) as client:
        assert client.get("/static/app.css").text == "the route"
        assert client.get("/static/app.js").text == "param app.js"
        assert client.get("/static/sub/deep.txt").text == "deep\n"
