"""web.auth's CSRF check on a bare FastAPI app with the same signed-cookie sessions the site
uses: a state-changing request must echo its session's token, by header or form field."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.middleware.sessions import SessionMiddleware

from web.auth import CSRF_FIELD, CSRF_HEADER, csrf_protect, csrf_token, login

app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key="unit-test-key")


@app.get("/token")
def token(request: Request) -> str:
    return csrf_token(request)


@app.post("/change", dependencies=[Depends(csrf_protect)])
def change() -> str:
    return "changed"


@app.get("/change")
def read() -> str:
    return "read"


@app.post("/login")
def log_in(request: Request) -> str:
    request.session["visited"] = True
    login(request, "ann")  # no server-side session was opened: nothing is kept
    return str(dict(request.session))


def test_the_token_is_one_per_session() -> None:
    a, b = TestClient(app), TestClient(app)
    first = a.get("/token").json()
    assert len(first) >= 40 and a.get("/token").json() == first
    assert b.get("/token").json() != first


def test_a_change_needs_the_token_by_header_or_form_field() -> None:
    client = TestClient(app)
    tok = client.get("/token").json()
    assert client.post("/change", headers={CSRF_HEADER: tok}).status_code == 200
    assert client.post("/change", data={CSRF_FIELD: tok}).status_code == 200
    assert client.get("/change").status_code == 200  # reading needs none


def test_a_missing_or_wrong_token_is_refused_and_says_what_to_do() -> None:
    client = TestClient(app)
    tok = client.get("/token").json()
    for request in (
        {},
        {"headers": {CSRF_HEADER: tok[:-1] + "x"}},
        {"data": {CSRF_FIELD: "junk"}},
        {"headers": {"Authorization": "Bearer anything"}},  # no way around the check
    ):
        r = client.post("/change", **request)
        assert r.status_code == 403 and "reload the page" in r.json()["detail"], request
    # another browser's token is not this one's
    other = TestClient(app).get("/token").json()
    assert client.post("/change", headers={CSRF_HEADER: other}).status_code == 403


def test_a_session_without_a_token_refuses_every_change() -> None:
    assert TestClient(app).post("/change", headers={CSRF_HEADER: ""}).status_code == 403


def test_logging_in_starts_a_fresh_session() -> None:
    client = TestClient(app)
    client.get("/token")
    assert client.post("/login").json() == "{}"  # the pre-login session (and token) is gone
