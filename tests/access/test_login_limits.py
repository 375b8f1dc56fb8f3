"""One log-in limit for every log-in form (issue 12, item 3): the admin's log-in page shares
the site's counters, and the URLconf has no log-in form outside them."""

import pytest
import time_machine
from django.contrib.auth.views import LoginView
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from core.models import SecurityEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import NOON

pytestmark = pytest.mark.django_db

SITE_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _default_login_limits(settings):
    """The log-in rules as DESIGN.md §4.3 sets them, whatever the environment overrides."""
    settings.REQUEST_RATE_LIMITS = {
        **settings.REQUEST_RATE_LIMITS,
        "login": [("25/5m", "ip")],
        "login_failures": [("5/30m", "username")],
    }
    with time_machine.travel(NOON, tick=False):
        yield


def _login(client, path, username, password="wrong-password"):  # noqa: S107 - a test value
    return client.post(path, {"username": username, "password": password})


def test_thirty_wrong_admin_passwords_then_the_right_one_is_refused():
    """Ensures that 30 wrong passwords for a staff account on /admin/login/ end in 429s, and
    the 31st, right, password does not log in (as the site's log-in refuses it)."""
    staff = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [_login(client, ADMIN_LOGIN, "boss").status_code for _ in range(30)]
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}
    response = _login(client, ADMIN_LOGIN, "boss", DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert b"Slow down a little" in response.content
    assert "_auth_user_id" not in client.session
    # Only the attempts that reached the password check are security events, as on the site.
    failures = SecurityEvent.objects.filter(kind=SecurityEvent.LOGIN_FAILED, user=staff)
    assert failures.count() == 5
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.LOGIN_SUCCEEDED).exists()


def test_failures_count_across_the_site_and_admin_forms():
    """Ensures that failed log-ins on either form fill one per-username counter: 3 on the site
    and 2 on the admin, from different addresses, then both forms refuse the right password."""
    UserFactory(username="boss", is_staff=True)
    for n in range(3):
        assert _login(Client(REMOTE_ADDR=f"198.51.100.{n}"), SITE_LOGIN, "boss").status_code == 200
    for n in range(2):
        response = _login(Client(REMOTE_ADDR=f"198.51.100.{10 + n}"), ADMIN_LOGIN, "Boss")
        assert response.status_code == 200
    for path in (SITE_LOGIN, ADMIN_LOGIN):
        response = _login(Client(REMOTE_ADDR="198.51.100.99"), path, "boss", DEFAULT_PASSWORD)
        assert response.status_code == 429, path
        assert response["RateLimit-Policy"].startswith('"login_failures";q=5;w=')


def test_per_ip_attempts_count_across_both_forms():
    """Ensures that the 25-per-5-minutes rule per IP counts POSTs to either form together."""
    client = Client(REMOTE_ADDR="192.0.2.50")
    for n in range(13):
        assert _login(client, SITE_LOGIN, f"nobody{n}").status_code == 200
    for n in range(12):
        assert _login(client, ADMIN_LOGIN, f"someone{n}").status_code == 200
    response = _login(client, ADMIN_LOGIN, "another")
    assert response.status_code == 429
    assert response["RateLimit-Policy"].startswith('"login";q=25;w=')


def test_admin_login_still_logs_staff_in():
    """Ensures that the limited admin log-in form still logs a staff member in, with the
    security event the site's log-in writes."""
    staff = UserFactory(username="boss", is_staff=True)
    client = Client(REMOTE_ADDR="203.0.113.8")
    response = _login(client, ADMIN_LOGIN, "boss", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    event = SecurityEvent.objects.get(kind=SecurityEvent.LOGIN_SUCCEEDED)
    assert event.user == staff and event.client_ip == "203.0.113.8"


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _is_login_form(pattern: URLPattern) -> bool:
    view_class = getattr(pattern.callback, "view_class", None)
    if view_class is not None and issubclass(view_class, LoginView):
        return True
    return pattern.name == "login" or getattr(pattern.callback, "__name__", "") == "login"


def test_every_login_form_in_the_urlconf_is_limited():
    """Ensures that every log-in route of the URLconf (any LoginView, any route named "login",
    the admin's included) answers through a view guarded by both log-in groups, so a new
    log-in form without the limit fails here with no list to update."""
    found = []
    for raw, pattern in _walk(get_resolver().url_patterns):
        if not _is_login_form(pattern) or "<" in raw or "(" in raw:
            continue
        path = "/" + raw.lstrip("^").rstrip("$")
        match = resolve(path)
        view_class = getattr(match.func, "view_class", None)
        guarded = getattr(match.func, "request_rate_groups", None) or getattr(
            getattr(view_class, "dispatch", None), "request_rate_groups", ()
        )
        assert {"login", "login_failures"} <= set(guarded), path
        found.append(path)
    assert {SITE_LOGIN, ADMIN_LOGIN} <= set(found)
