"""Response models: return annotations and response_model= shape what leaves; response_class=."""

import dataclasses
import logging
from typing import Any, TypedDict

import msgspec
import pydantic
import pytest

from zephyr import HTMLResponse, PlainTextResponse, Response, SetupError, Zephyr
from zephyr.testing import TestClient

SECRET = "s3cr3t-value"  # never written literally in a handler, so no source line shows it


class UserStruct(msgspec.Struct):
    id: int
    name: str


@dataclasses.dataclass
class UserDataclass:
    id: int
    name: str


class UserDict(TypedDict):
    id: int
    name: str


class UserModel(pydantic.BaseModel):
    id: int
    name: str


class Summary(msgspec.Struct):
    id: int


class StoredUser:
    """An ORM-like object with more attributes than any response should show."""

    def __init__(self, id: int, name: str) -> None:
        self.id = id
        self.name = name
        self.password_hash = SECRET


MODELS = [UserStruct, UserDataclass, UserDict, UserModel]


@pytest.mark.parametrize("model", MODELS)
def test_the_return_annotation_filters_extra_keys(model: Any) -> None:
    app = Zephyr()

    @app.get("/one")
    def one() -> model:
        return {"id": 1, "name": "ann", "password_hash": SECRET}

    @app.get("/many")
    def many() -> list[model]:
        return [{"id": 1, "name": "ann", "password_hash": SECRET}, {"id": 2, "name": "bob"}]

    with TestClient(app) as client:
        r = client.get("/one")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"id": 1, "name": "ann"}
        assert client.get("/many").json() == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]


@pytest.mark.parametrize("model", [UserStruct, UserDataclass, UserModel])
def test_the_return_annotation_reads_object_attributes(model: Any) -> None:
    app = Zephyr()

    @app.get("/one")
    def one() -> model:
        return StoredUser(1, "ann")

    @app.get("/many")
    async def many() -> list[model]:
        return [StoredUser(1, "ann"), StoredUser(2, "bob")]

    with TestClient(app) as client:
        assert client.get("/one").json() == {"id": 1, "name": "ann"}
        assert client.get("/many").json() == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]
        assert SECRET not in client.get("/many").text


@pytest.mark.parametrize("model", MODELS)
def test_an_instance_of_the_model_is_sent_as_it_is(model: Any) -> None:
    app = Zephyr()

    @app.get("/")
    def one() -> model:
        return model(id=1, name="ann")

    with TestClient(app) as client:
        assert client.get("/").json() == {"id": 1, "name": "ann"}


def test_response_model_overrides_or_disables_the_annotation() -> None:
    app = Zephyr()

    @app.get("/summary", response_model=Summary)
    def summary() -> UserStruct:
        return UserStruct(id=1, name="ann")

    @app.get("/users", response_model=list[UserModel])
    def users() -> Any:
        return [StoredUser(1, "ann")]

    @app.get("/raw", response_model=None)
    def raw() -> UserStruct:
        return {"id": 1, "name": "ann", "extra": True}

    with TestClient(app) as client:
        assert client.get("/summary").json() == {"id": 1}
        assert client.get("/users").json() == [{"id": 1, "name": "ann"}]
        assert client.get("/raw").json() == {"id": 1, "name": "ann", "extra": True}


def test_annotations_that_are_not_models_are_not_enforced() -> None:
    app = Zephyr()

    @app.get("/dict")
    def as_dict() -> dict[str, str]:
        return {"id": 1, "extra": True}

    @app.get("/text")
    def as_text() -> str:
        return "<p>hi</p>"

    @app.get("/optional")
    def optional() -> UserStruct | None:
        return {"id": 1, "extra": True}

    with TestClient(app) as client:
        assert client.get("/dict").json() == {"id": 1, "extra": True}
        r = client.get("/text")
        assert (r.text, r.headers["content-type"]) == ("<p>hi</p>", "text/html; charset=utf-8")
        assert client.get("/optional").json() == {"id": 1, "extra": True}


def test_a_returned_response_passes_through() -> None:
    app = Zephyr()

    @app.get("/", status_code=201)
    def custom() -> UserStruct:
        return Response(b"as is", 202, media_type="text/plain")

    with TestClient(app) as client:
        r = client.get("/")
    assert (r.status_code, r.text, r.headers["content-type"]) == (
        202, "as is", "text/plain; charset=utf-8",
    )


def test_status_code_with_a_model() -> None:
    app = Zephyr()

    @app.post("/users", status_code=201)
    def create() -> UserModel:
        return {"id": 7, "name": "new", "password_hash": SECRET}

    with TestClient(app) as client:
        r = client.post("/users")
    assert r.status_code == 201
    assert r.json() == {"id": 7, "name": "new"}


def test_response_class() -> None:
    app = Zephyr()

    @app.get("/page", response_class=HTMLResponse)
    def page() -> Any:
        return "<h1>Hi</h1>"

    @app.get("/text", response_class=PlainTextResponse, status_code=202)
    def text() -> Any:
        return "<h1>Hi</h1>"

    @app.get("/own", response_class=PlainTextResponse)
    def own() -> Any:
        return HTMLResponse("<b>mine</b>")

    with TestClient(app) as client:
        r = client.get("/page")
        assert (r.status_code, r.headers["content-type"], r.text) == (
            200, "text/html; charset=utf-8", "<h1>Hi</h1>",
        )
        r = client.get("/text")
        assert (r.status_code, r.headers["content-type"], r.text) == (
            202, "text/plain; charset=utf-8", "<h1>Hi</h1>",
        )
        assert client.get("/own").headers["content-type"] == "text/html; charset=utf-8"


def test_a_response_model_must_be_a_model() -> None:
    app = Zephyr()

    @app.get("/", response_model=dict)
    def handler() -> Any:
        return {}

    with pytest.raises(SetupError) as info:
        app._go_live()
    assert str(info.value) == (
        f"response_model of {handler.__qualname__} must be a model (or list of models), "
        "not <class 'dict'>"
    )


# -- a return value that does not fit -------------------------------------------------------

MISMATCHES = [
    (UserStruct, {"id": "x", "name": "ann", "password_hash": SECRET},
     "Expected `int`, got `str` - at `$.id`"),
    (UserStruct, {"id": 1, "password_hash": SECRET}, "Object missing required field `name`"),
    (UserModel, {"id": 1, "password_hash": SECRET}, "Field required"),
]


@pytest.mark.parametrize(("model", "value", "problem"), MISMATCHES)
def test_a_return_value_that_does_not_fit_is_a_500_and_logged(
    model: Any, value: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Zephyr()

    @app.get("/")
    def broken() -> model:
        return value

    with caplog.at_level(logging.ERROR, logger="zephyr.error"), TestClient(app) as client:
        r = client.get("/")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith("The server failed to handle this request.")
    assert SECRET not in r.text
    assert problem not in r.text  # outside debug mode only the request id leaves
    [record] = [rec for rec in caplog.records if rec.name == "zephyr.error"]
    assert record.getMessage().startswith("unhandled ResponseValidationError in GET /")
    logged = str(record.exc_info[1]) if record.exc_info else ""
    assert logged.startswith(
        f"{broken.__qualname__} returned a value that does not fit its response model "
        f"{model.__name__}: "
    )
    assert problem in logged
    assert logged.endswith(
        "; return an instance of the model (or data with its fields), or change the model"
    )
    assert SECRET not in logged  # the data itself is not written to the log


@pytest.mark.parametrize(("model", "value", "problem"), MISMATCHES)
def test_debug_mode_shows_the_mismatch_but_not_the_data(
    model: Any, value: dict[str, Any], problem: str
) -> None:
    app = Zephyr(debug=True)

    @app.get("/")
    def broken() -> model:
        return value

    with TestClient(app) as client:
        r = client.get("/")
        page = client.get("/", headers={"accept": "text/html"})
    assert r.status_code == 500
    detail = r.json()["detail"]
    assert detail.startswith(
        f"ResponseValidationError: {broken.__qualname__} returned a value that does not fit "
        f"its response model {model.__name__}: "
    )
    assert problem in detail
    assert "ResponseValidationError" in r.json()["traceback"][-1]
    assert page.status_code == 500
    assert "does not fit its response model" in page.text
    assert SECRET not in r.text
    assert SECRET not in page.text
