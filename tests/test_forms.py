"""Form bodies: url-encoded and multipart, uploaded files, and the limits on both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import zephyr._multipart
import zephyr.datastructures
from zephyr import Request, UploadFile, Zephyr
from zephyr.testing import TestClient
from zephyr.uploads import sanitize_filename

BOUNDARY = "b0undary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def part(disposition: str, body: bytes, content_type: str | None = None) -> bytes:
    """One part of a multipart body: headers, blank line, content."""
    head = f"Content-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + body + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    marker = f"--{BOUNDARY}".encode()
    return b"".join(marker + b"\r\n" + p for p in parts) + marker + b"--\r\n"


def describe(value: str | UploadFile) -> Any:
    if isinstance(value, str):
        return value
    return {"filename": value.filename, "raw_filename": value.raw_filename,
            "content_type": value.content_type, "size": value.size}


def form_app(**settings: Any) -> Zephyr:
    """``POST /`` answers with every form item, files described."""
    app = Zephyr(**settings)

    @app.post("/")
    async def echo(request: Request) -> list[Any]:
        form = await request.form()
        return [[name, describe(value)] for name, value in form.multi_items()]

    return app


# -- url-encoded -------------------------------------------------------------------------


def test_urlencoded_form_keeps_repeated_keys_and_decodes_plus_and_escapes() -> None:
    app = Zephyr()

    @app.post("/")
    async def echo(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"tag": form["tag"], "tags": form.getlist("tag"), "q": form["q"],
                "empty": form["empty"], "same": form is await request.form()}

    with TestClient(app) as client:
        got = client.post("/", content=b"tag=a&tag=b&q=1+1%3D2+%E2%82%AC&empty=",
                          headers=URLENCODED)
    assert got.json() == {"tag": "a", "tags": ["a", "b"], "q": "1 1=2 \u20ac", "empty": "",
                          "same": True}


def test_urlencoded_form_from_httpx_data() -> None:
    with TestClient(form_app()) as client:
        got = client.post("/", data={"name": "Ann & Bob", "n": ["1", "2"]})
    assert got.json() == [["name", "Ann & Bob"], ["n", "1"], ["n", "2"]]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"a=%zz", "the form body has an invalid percent-escape; '%' must be followed"),
        (b"a=%e9t%e9", "the form body is not valid UTF-8; percent-encode text as UTF-8"),
    ],
)
def test_badly_encoded_urlencoded_form_is_a_400(body: bytes, detail: str) -> None:
    with TestClient(form_app()) as client:
        got = client.post("/", content=body, headers=URLENCODED)
    assert got.status_code == 400
    assert got.json()["detail"].startswith(detail)


def test_too_many_urlencoded_fields_is_a_413_naming_the_setting() -> None:
    with TestClient(form_app(multipart_max_fields=3)) as client:
        assert client.post("/", content=b"a=1&b=2&c=3", headers=URLENCODED).status_code == 200
        got = client.post("/", content=b"a=1&b=2&c=3&d=4", headers=URLENCODED)
    assert got.status_code == 413
    assert got.json()["detail"] == (
        "the form has more than 3 fields; raise MULTIPART_MAX_FIELDS if this is expected"
    )


@pytest.mark.parametrize(
    ("body", "status", "decoded"),
    [
        # Decoding is what costs (about 0.5 s of loop time per MiB): a form over the field
        # limit is refused before a single field is percent-decoded.
        (b"a=%41&" * 3 + b"d=%44", 413, 0),
        (b"a=%41&" * 2000, 413, 0),
        (b"a=%41&b=%42&c=%43", 200, 6),
        # Blank pairs are no fields: they neither count nor get decoded.
        (b"&" * 5000 + b"a=%41", 200, 2),
    ],
)
def test_urlencoded_fields_are_counted_before_any_is_decoded(
    monkeypatch: pytest.MonkeyPatch, body: bytes, status: int, decoded: int
) -> None:
    calls: list[bytes] = []
    decode = zephyr.datastructures._decode_component

    def counting(raw: bytes, what: str) -> str:
        calls.append(raw)
        return decode(raw, what)

    monkeypatch.setattr(zephyr.datastructures, "_decode_component", counting)
    with TestClient(form_app(multipart_max_fields=3)) as client:
        got = client.post("/", content=body, headers=URLENCODED)
    assert got.status_code == status
    if status == 413:
        assert got.json()["detail"] == (
            "the form has more than 3 fields; raise MULTIPART_MAX_FIELDS if this is expected"
        )
    assert len(calls) == decoded


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"content-type": "application/json"}, "another media type"),
        ({"content-type": "text/plain"}, "another media type"),
        ({}, "no content type"),
    ],
)
def test_form_on_another_content_type_is_a_415(headers: dict[str, str], named: str) -> None:
    with TestClient(form_app()) as client:
        got = client.post("/", content=b'{"a": 1}', headers=headers)
    assert got.status_code == 415
    assert got.json()["detail"] == (
        "expected a form (Content-Type: application/x-www-form-urlencoded or "
        f"multipart/form-data), got {named}"
    )


# -- multipart ---------------------------------------------------------------------------


def test_multipart_fields_and_files_from_httpx() -> None:
    with TestClient(form_app()) as client:
        got = client.post(
            "/",
            data={"title": "Report", "tag": ["a", "b"]},
            files=[("doc", ("report.txt", b"hello world", "text/plain")),
                   ("doc", ("data.bin", b"\x00\x01", "application/octet-stream"))],
        )
    assert got.status_code == 200
    assert got.json() == [
        ["title", "Report"], ["tag", "a"], ["tag", "b"],
        ["doc", {"filename": "report.txt", "raw_filename": "report.txt",
                 "content_type": "text/plain", "size": 11}],
        ["doc", {"filename": "data.bin", "raw_filename": "data.bin",
                 "content_type": "application/octet-stream", "size": 2}],
    ]


def test_multipart_parts_split_across_many_small_chunks() -> None:
    body = multipart(part('form-data; name="a"', b"first"),
                     part('form-data; name="f"; filename="x.txt"', b"y" * 100, "text/plain"),
                     part('form-data; name="\xe9"', "caf\u00e9".encode()))
    app = Zephyr()

    @app.post("/")
    async def echo(request: Request) -> list[Any]:
        form = await request.form()
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        return [form["a"], (await upload.read()).decode(), form["\xe9"]]

    with TestClient(app) as client:
        got = client.post("/", content=iter(body[i : i + 7] for i in range(0, len(body), 7)),
                          headers=MULTIPART)
    assert got.json() == ["first", "y" * 100, "caf\u00e9"]


def test_upload_file_read_seek_and_save(tmp_path: Path) -> None:
    app = Zephyr()
    target = tmp_path / "saved.txt"

    @app.post("/")
    async def upload(request: Request) -> dict[str, Any]:
        file = (await request.form())["file"]
        assert isinstance(file, UploadFile)
        head = await file.read(5)
        rest = await file.read()
        await file.seek(0)
        again = await file.read()
        await file.save(target)
        return {"head": head.decode(), "rest": rest.decode(), "again": again.decode(),
                "in_memory": file.in_memory, "repr": repr(file),
                "header": file.headers["content-type"]}

    with TestClient(app) as client:
        got = client.post("/", files={"file": ("notes.txt", b"hello world", "text/markdown")})
    assert got.json() == {
        "head": "hello", "rest": " world", "again": "hello world", "in_memory": True,
        "repr": "UploadFile(filename='notes.txt', size=11, 'text/markdown')",
        "header": "text/markdown",
    }
    assert target.read_bytes() == b"hello world"


def test_large_uploads_spool_to_disk_with_their_content_intact(tmp_path: Path) -> None:
    app = Zephyr(multipart_spool_size=1000)
    content = bytes(range(256)) * 40  # 10 KiB, past the spool size
    target = tmp_path / "big.bin"

    @app.post("/")
    async def upload(request: Request) -> dict[str, Any]:
        form = await request.form()
        big, small = form["big"], form["small"]
        assert isinstance(big, UploadFile)
        assert isinstance(small, UploadFile)
        await big.save(target)
        await big.seek(0)
        return {"big_in_memory": big.in_memory, "small_in_memory": small.in_memory,
                "same": await big.read() == content, "size": big.size}

    with TestClient(app) as client:
        got = client.post("/", files={"big": ("big.bin", content), "small": ("s.txt", b"s")})
    assert got.json() == {"big_in_memory": False, "small_in_memory": True, "same": True,
                          "size": len(content)}
    assert target.read_bytes() == content


@pytest.mark.parametrize(
    ("sent", "filename"),
    [
        ("../../etc/passwd", "passwd"),
        ("sub\\\\dir\\\\a.txt", "a.txt"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("tab\there.txt", "tabhere.txt"),
        ("..", None),
        ("", None),
        ("caf\u00e9.txt", "caf\u00e9.txt"),
    ],
)
def test_uploaded_filenames_are_sanitised_and_the_raw_one_kept(
    sent: str, filename: str | None
) -> None:
    disposition = f'form-data; name="f"; filename="{sent}"'
    with TestClient(form_app()) as client:
        got = client.post("/", content=multipart(part(disposition, b"x")), headers=MULTIPART)
    [[_, described]] = got.json()
    assert described["filename"] == filename
    assert described["raw_filename"] == sent.replace("\\\\", "\\")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\a.txt", "a.txt"),
        ("dir/", None),
        ("a\x00b\nc\r\x7f.txt", "abc.txt"),
        ("\x00", None),
        ("...", None),
        ("  spaced.txt  ", "spaced.txt"),
        ("x" * 300, "x" * 255),
        (None, None),
    ],
)
def test_sanitize_filename(raw: str | None, expected: str | None) -> None:
    assert sanitize_filename(raw) == expected


def test_upload_file_keeps_the_raw_filename() -> None:
    upload = UploadFile(filename="../x\x00.txt", content_type="text/plain")
    assert (upload.filename, upload.raw_filename) == ("x.txt", "../x\x00.txt")
    asyncio.run(upload.close())


def test_upload_file_used_directly() -> None:
    async def main() -> list[Any]:
        upload = UploadFile(filename="a.bin", spool_size=4)
        await upload.write(b"ab")
        was_in_memory = upload.in_memory
        await upload.write(b"cdef")
        await upload.seek(1)
        data = await upload.read(3)
        await upload.close()
        return [was_in_memory, upload.in_memory, data, upload.size, upload.file.closed]

    assert asyncio.run(main()) == [True, False, b"bcd", 6, True]


def test_too_many_files_is_a_413_naming_the_setting() -> None:
    files = [("f", (f"{i}.txt", b"x")) for i in range(3)]
    with TestClient(form_app(multipart_max_files=2)) as client:
        assert client.post("/", files=files[:2]).status_code == 200
        got = client.post("/", files=files)
    assert got.status_code == 413
    assert got.json()["detail"] == (
        "the form has more than 2 files; raise MULTIPART_MAX_FILES if this is expected"
    )


def test_too_many_multipart_fields_is_a_413_naming_the_setting() -> None:
    with TestClient(form_app(multipart_max_fields=2)) as client:
        assert client.post("/", data={"a": "1", "b": "2"}, files={"f": ("f", b"")}).is_success
        got = client.post("/", data={"a": "1", "b": "2", "c": "3"}, files={"f": ("f", b"")})
    assert got.status_code == 413
    assert got.json()["detail"] == (
        "the form has more than 2 fields; raise MULTIPART_MAX_FIELDS if this is expected"
    )


def test_multipart_body_over_its_size_limit_is_a_413() -> None:
    with TestClient(form_app(max_multipart_size=100)) as client:
        got = client.post("/", files={"f": ("f.bin", b"x" * 200)})
    assert got.status_code == 413
    assert "larger than the limit of 100 bytes" in got.json()["detail"]


@pytest.mark.parametrize(
    ("content_type", "body", "detail"),
    [
        ("multipart/form-data", multipart(part('form-data; name="a"', b"1")),
         "the multipart body has no boundary in its Content-Type header"),
        ("multipart/form-data; boundary=", b"--\r\n",
         "the multipart body has no boundary in its Content-Type header"),
        (MULTIPART["content-type"], b"this is not multipart at all",
         "malformed multipart body: Expected boundary character"),
        (MULTIPART["content-type"], multipart(part("form-data", b"1")),
         "malformed multipart body: each part needs 'Content-Disposition: form-data; "
         "name=\"...\"'"),
        (MULTIPART["content-type"], multipart(part('attachment; name="a"', b"1")),
         "malformed multipart body: each part needs 'Content-Disposition"),
        (MULTIPART["content-type"], f"--{BOUNDARY}\r\nX-Other: 1\r\n\r\n1\r\n".encode(),
         "malformed multipart body: each part needs 'Content-Disposition"),
        (MULTIPART["content-type"], multipart(part('form-data; name="a"', b"\xff")),
         "malformed multipart body: a field value is not valid UTF-8"),
        (MULTIPART["content-type"],
         multipart(b'Content-Disposition: form-data; name="\xff"\r\n\r\n1\r\n'),
         "malformed multipart body: a field name is not valid UTF-8"),
        (MULTIPART["content-type"],
         f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\ncut sh'.encode(),
         "malformed multipart body: it ends before the closing boundary"),
    ],
)
def test_malformed_multipart_is_a_400(content_type: str, body: bytes, detail: str) -> None:
    with TestClient(form_app()) as client:
        got = client.post("/", content=body, headers={"content-type": content_type})
    assert got.status_code == 400
    assert got.json()["detail"].startswith(detail)


def test_an_empty_multipart_form_has_no_items() -> None:
    with TestClient(form_app()) as client:
        assert client.post("/", content=f"--{BOUNDARY}--\r\n", headers=MULTIPART).json() == []


# -- uploaded files are released ----------------------------------------------------------


def test_uploaded_files_are_closed_after_the_response() -> None:
    app = Zephyr()
    kept: list[UploadFile] = []

    @app.post("/")
    async def upload(request: Request) -> dict[str, list[bool]]:
        form = await request.form()
        kept.extend(v for _, v in form.multi_items() if isinstance(v, UploadFile))
        return {"open": [not f.file.closed for f in kept]}

    files = [("a", ("a.txt", b"a")), ("a", ("a2.txt", b"a")), ("b", ("b.txt", b"b"))]
    with TestClient(app) as client:
        assert client.post("/", files=files).json() == {"open": [True, True, True]}
    assert [f.file.closed for f in kept] == [True, True, True]


def test_files_parsed_before_an_error_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[UploadFile] = []

    class RecordingUploadFile(UploadFile):
        __slots__ = ()

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            created.append(self)

    monkeypatch.setattr(zephyr._multipart, "UploadFile", RecordingUploadFile)
    files = [("f", (f"{i}.txt", b"x")) for i in range(3)]
    with TestClient(form_app(multipart_max_files=2)) as client:
        assert client.post("/", files=files).status_code == 413
        body = multipart(part('form-data; name="f"; filename="a"', b"x"),
                         part('form-data; name="bad"', b"\xff"))
        assert client.post("/", content=body, headers=MULTIPART).status_code == 400
        cut = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="c"\r\n\r\nx'
        assert client.post("/", content=cut.encode(), headers=MULTIPART).status_code == 400
    assert len(created) == 4
    assert all(f.file.closed for f in created)
