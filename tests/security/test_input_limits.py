"""Input limits (issue 12, items 7 and 8): too many query parameters are a 400 with DEBUG on
too; oversized bodies and too many fields are Mastodon's JSON under /api/; form bodies that
are not UTF-8 are refused, on web forms and API form bodies, as JSON bodies are."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from feeds.models import Post
from tests.access.conftest import free_port
from tests.sqlite_files import sqlite_file_migrated

from .conftest import bearer

MANY = "&".join(f"p{n}=1" for n in range(1001))
PATHS = ["/public/", "/api/v1/timelines/public", "/no/such/page/", "/api/v1/nothing-here"]


@pytest.fixture
def api(world):
    client = Client(raise_request_exception=False)
    client.defaults.update(bearer(world.tokens["owner"]))
    return client


@pytest.fixture
def web(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.owner)
    return client


def _assert_refused(response, status: int, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    if response.wsgi_request.path.startswith("/api/"):
        assert response["Content-Type"] == "application/json"
        assert words in response.json()["error"]
    else:
        assert response["Content-Type"].startswith("text/html")
        assert words.encode() in response.content


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_too_many_query_parameters_are_400_with_debug_on_or_off(api, settings, debug, path):
    """Ensures that more than 1,000 query parameters on any path are a 400 with a sentence
    (JSON under /api/), also with DEBUG on, where Django's debug page re-read request.GET and
    turned it into a 500."""
    settings.DEBUG = debug
    _assert_refused(api.get(f"{path}?{MANY}"), 400, "Too many query parameters")


def test_a_thousand_query_parameters_are_still_read(api):
    """Ensures that the limit is Django's (1,000): a request at the limit is answered."""
    many = "&".join(f"p{n}=1" for n in range(999))
    assert api.get(f"/api/v1/timelines/public?limit=2&{many}").status_code == 200


@pytest.mark.parametrize("debug", [False, True])
def test_api_oversized_bodies_are_json_413(api, settings, debug):
    """Ensures that a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a JSON 413 on the API, JSON or
    form, and posts nothing."""
    settings.DEBUG = debug
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    for body, content_type in (
        (json.dumps({"status": big}), "application/json"),
        (f"status={big}", "application/x-www-form-urlencoded"),
    ):
        response = api.post("/api/v1/statuses", body, content_type=content_type)
        _assert_refused(response, 413, "at most 256 KB")
    assert not Post.objects.filter(text__startswith="xxxx").exists()


def test_web_oversized_body_is_413_page(web, settings):
    """Ensures that an oversized web form is a 413 page with the limit in words."""
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = web.post("/posts/new/", {"text": big})
    _assert_refused(response, 413, "at most 256 KB")


@pytest.mark.parametrize("debug", [False, True])
def test_api_too_many_form_fields_are_json_400(api, settings, debug):
    """Ensures that more than 1,000 form fields, urlencoded or multipart, are a JSON 400 on
    the API (it was Django's HTML 400 page), and post nothing."""
    settings.DEBUG = debug
    fields = {f"f{n}": "1" for n in range(1001)}
    urlencoded = api.post(
        "/api/v1/statuses",
        MANY + "&status=hello",
        content_type="application/x-www-form-urlencoded",
    )
    _assert_refused(urlencoded, 400, "Too many form fields")
    multipart = api.post("/api/v1/statuses", {**fields, "status": "hello"})
    _assert_refused(multipart, 400, "Too many form fields")
    assert not Post.objects.filter(text="hello").exists()


def test_other_bad_requests_are_json_under_api(world):
    """Ensures that Django's other 400s (here a Host header we do not serve) are JSON under
    /api/ and the HTML page elsewhere."""
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/timelines/public", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response.json()["error"]
    page = client.get("/public/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


MULTIPART_BOUNDARY = "b0undary"


def _multipart(text: bytes) -> bytes:
    return (
        (
            f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="status"\r\n\r\n'
        ).encode()
        + text
        + f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode()
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"status=hi%FFthere", "application/x-www-form-urlencoded"),
        (b"status=hi%C3there", "application/x-www-form-urlencoded"),  # a cut-off sequence
        (b"status=hi\xffthere", "application/x-www-form-urlencoded"),  # raw, not escaped
        (_multipart(b"hi\xffthere"), f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"),
    ],
)
def test_api_form_bodies_that_are_not_utf8_are_refused(api, body, content_type):
    """Ensures that an API form body with bytes that are not UTF-8 is a JSON 400 saying so,
    as the JSON parser refuses them, instead of a post stored with U+FFFD."""
    response = api.generic("POST", "/api/v1/statuses", body, content_type=content_type)
    _assert_refused(response, 400, "not valid UTF-8")
    assert not Post.objects.filter(text__contains="\ufffd").exists()
    assert not Post.objects.filter(text__startswith="hi").exists()


def test_web_form_that_is_not_utf8_is_refused(web, world):
    """Ensures that the web composer refuses a body that is not UTF-8 with a 400 page saying
    so, and stores nothing."""
    response = web.generic(
        "POST", "/posts/new/", b"text=caf%E9", content_type="application/x-www-form-urlencoded"
    )
    _assert_refused(response, 400, "not valid UTF-8")
    assert not Post.objects.filter(text__contains="\ufffd").exists()


def test_utf8_forms_are_still_accepted(api, web):
    """Ensures that valid UTF-8, percent-encoded or raw, in forms is posted as sent."""
    response = api.generic(
        "POST",
        "/api/v1/statuses",
        b"status=caf%C3%A9 ok",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    response = api.generic(
        "POST",
        "/api/v1/statuses",
        _multipart("naïve".encode()),
        content_type=f"multipart/form-data; boundary={MULTIPART_BOUNDARY}",
    )
    assert response.status_code == 200, response.content
    assert web.post("/posts/new/", {"text": "crème brûlée"}).status_code in (200, 302)
    assert set(
        Post.objects.filter(text__in=["café ok", "naïve", "crème brûlée"]).values_list(
            "text", flat=True
        )
    ) == {"café ok", "naïve", "crème brûlée"}


@pytest.mark.embedded_only
def test_live_runserver_with_debug_answers_400_to_too_many_query_parameters(tmp_path):
    """Ensures that the attack as found — `runserver` with DEBUG on, more than 1,000 query
    parameters — is a 400 (JSON under /api/, the page elsewhere), not a 500."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DEBUG": "1",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    sqlite_file_migrated(tmp_path / "db.sqlite3")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def status_of(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:  # noqa: S310
                return reply.status, reply.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"]

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status_of("/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "runserver did not start"
                time.sleep(0.5)  # waiting for the server to listen, not timing it
        assert status_of(f"/api/v1/timelines/public?{MANY}") == (400, "application/json")
        status, content_type = status_of(f"/public/?{MANY}")
        assert status == 400 and content_type.startswith("text/html")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
