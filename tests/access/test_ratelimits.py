"""Request-rate limits (core/ratelimits.py): each group refuses past its limit with a 429
that says why and when, resets after its window, and is keyed by the right thing."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import reverse
from django_ratelimit.checks import check_caches
from rest_framework.test import APIClient

from accounts.services import token_create
from core.ratelimits import ratelimit_check
from feeds.models import Follow
from tests.factories import DEFAULT_PASSWORD, PostFactory, UserFactory

from .conftest import NOON, RedisServer

REPO = Path(__file__).resolve().parents[2]
DEFAULT_LIMITS = {
    "signup": [("5/30m", "ip")],
    "login": [("25/5m", "ip")],
    "login_failures": [("5/30m", "username")],
    "post": [("300/3h", "user")],
    "follow": [("400/1d", "user")],
    "api": [("300/5m", "token"), ("1500/5m", "user"), ("300/5m", "anon_ip")],
    "paging": [("300/15m", "principal")],
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Set some groups' rules for one test (the others keep the defaults)."""

    def use(**groups):
        settings.REQUEST_RATE_LIMITS = {**DEFAULT_LIMITS, **groups}

    use()
    return use


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def assert_web_refusal(response, group: str, limit: int) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["RateLimit-Policy"].startswith(f'"{group}";q={limit};w=')
    assert response["X-RateLimit-Remaining"] == "0"
    assert b"Slow down a little" in response.content
    assert b"does not reload by itself" in response.content


def assert_api_refusal(response, group: str, limit: int) -> dict:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["X-RateLimit-Limit"] == str(limit)
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["RateLimit"].startswith(f'"{group}";r=0;t=')
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["policy"] == group
    assert body["limit"] == limit
    assert body["remaining"] == 0
    assert body["reset_at"].endswith("Z")
    assert "try again" in body["error"]
    return body


def signup_post(client, n: int, **extra):
    return client.post(
        reverse("accounts:signup"),
        {"username": f"new{n}", "email": f"new{n}@example.com", "password1": "x", "password2": "y"},
        **extra,
    )


def test_signup_refused_past_limit_per_ip(limits, clock):
    """Ensures that the sixth sign-up POST from one IP within 30 minutes is refused with the
    429 page, while a GET of the form still works."""
    client = Client(REMOTE_ADDR="198.51.100.1")
    for n in range(5):
        assert signup_post(client, n).status_code == 400  # invalid form, but counted
    response = signup_post(client, 5)
    assert_web_refusal(response, "signup", 5)
    assert int(response["Retry-After"]) <= 30 * 60
    assert client.get(reverse("accounts:signup")).status_code == 200


def test_signup_resets_after_window(limits, clock):
    """Ensures that the limit frees up once its 30-minute window has passed (time travel)."""
    client = Client(REMOTE_ADDR="198.51.100.2")
    for n in range(5):
        signup_post(client, n)
    refused = signup_post(client, 5)
    assert refused.status_code == 429
    clock.shift(timedelta(seconds=int(refused["Retry-After"]) + 1))
    assert signup_post(client, 6).status_code == 400


def test_two_ips_are_independent(limits, clock):
    """Ensures that one IP using up its limit leaves another IP's untouched."""
    first, second = Client(REMOTE_ADDR="198.51.100.3"), Client(REMOTE_ADDR="198.51.100.4")
    for n in range(6):
        signup_post(first, n)
    assert signup_post(first, 9).status_code == 429
    assert signup_post(second, 9).status_code == 400


def test_forged_forwarded_for_is_not_a_new_key(limits, clock, settings):
    """Ensures that, with no trusted proxy, X-Forwarded-For does not change the key: the same
    peer stays refused whatever address it claims."""
    settings.TRUSTED_PROXY_COUNT = 0
    client = Client(REMOTE_ADDR="198.51.100.5")
    for n in range(5):
        signup_post(client, n, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert signup_post(client, 5, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_trusted_proxy_keys_by_forwarded_client(limits, clock, settings):
    """Ensures that behind one trusted proxy the client in X-Forwarded-For is the key, so two
    clients behind the same proxy are independent."""
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    for n in range(5):
        signup_post(proxy, n, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert signup_post(proxy, 5, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 429
    assert signup_post(proxy, 6, HTTP_X_FORWARDED_FOR="203.0.113.11").status_code == 400


def test_ipv6_same_64_shares_a_counter(limits, clock):
    """Ensures that IPv6 clients are grouped by /64: another address in the same /64 is
    refused too, one in another /64 is not."""
    for n in range(5):
        signup_post(Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1}"), n)
    assert signup_post(Client(REMOTE_ADDR="2001:db8:1:2:ffff::9"), 5).status_code == 429
    assert signup_post(Client(REMOTE_ADDR="2001:db8:1:3::1"), 6).status_code == 400


def login(client, username, password="wrong-password"):  # noqa: S107 - a test value
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_login_refused_past_limit_per_ip(limits, clock):
    """Ensures that the 26th log-in POST from one IP in 5 minutes is refused (each with a
    different username, so the per-username failure limit is not what trips)."""
    client = Client(REMOTE_ADDR="198.51.100.20")
    for n in range(25):
        assert login(client, f"nobody{n}").status_code == 200
    assert_web_refusal(login(client, "nobody-else"), "login", 25)


def test_login_failures_limited_per_username(limits, clock):
    """Ensures that after 5 failed log-ins for one username in 30 minutes even the right
    password is refused, from any IP and in any letter case, while another username and a
    successful log-in elsewhere are unaffected; successes are not counted."""
    victim = UserFactory(username="victim")
    other = UserFactory(username="bystander")
    for _ in range(3):  # successes cost nothing
        assert (
            login(Client(REMOTE_ADDR="198.51.100.30"), "bystander", DEFAULT_PASSWORD).status_code
            == 302
        )
    for n in range(5):
        assert login(Client(REMOTE_ADDR=f"198.51.100.{40 + n}"), "Victim").status_code == 200
    response = login(Client(REMOTE_ADDR="198.51.100.99"), "victim", DEFAULT_PASSWORD)
    assert_web_refusal(response, "login_failures", 5)
    assert b"failed log-ins for this username" in response.content
    assert (
        login(Client(REMOTE_ADDR="198.51.100.99"), other.username, DEFAULT_PASSWORD).status_code
        == 302
    )
    clock.shift(timedelta(minutes=31))
    assert (
        login(Client(REMOTE_ADDR="198.51.100.99"), victim.username, DEFAULT_PASSWORD).status_code
        == 302
    )


def test_posting_limited_per_user_across_web_and_api(limits, clock):
    """Ensures that posting counts the web composer and POST /api/v1/statuses together, per
    user, and that each surface refuses in its own shape."""
    limits(post=[("3/3h", "user")])
    author = UserFactory()
    web = Client()
    web.force_login(author)
    _, raw = token_create(user=author, name="t", scopes=["read", "write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert web.post(reverse("feeds:post_create"), {"text": "one"}).status_code == 302
    assert api.post("/api/v1/statuses", {"status": "two"}, format="json").status_code == 200
    assert web.post(reverse("feeds:post_create"), {"text": "three"}).status_code == 302
    assert_api_refusal(api.post("/api/v1/statuses", {"status": "four"}, format="json"), "post", 3)
    assert_web_refusal(web.post(reverse("feeds:post_create"), {"text": "five"}), "post", 3)
    assert author.posts.count() == 3
    # Someone else may still post.
    other = Client()
    other.force_login(UserFactory())
    assert other.post(reverse("feeds:post_create"), {"text": "hi"}).status_code == 302


def test_follows_limited_per_user(limits, clock):
    """Ensures that follows (web and API) are limited per user."""
    limits(follow=[("2/1d", "user")])
    follower = UserFactory()
    targets = [UserFactory() for _ in range(4)]
    web = Client()
    web.force_login(follower)
    _, raw = token_create(user=follower, name="t", scopes=["read", "write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert web.post(reverse("feeds:follow", args=[targets[0].username])).status_code == 302
    assert api.post(f"/api/v1/accounts/{targets[1].pk}/follow").status_code == 200
    assert_api_refusal(api.post(f"/api/v1/accounts/{targets[2].pk}/follow"), "follow", 2)
    assert_web_refusal(web.post(reverse("feeds:follow", args=[targets[3].username])), "follow", 2)
    assert Follow.objects.filter(follower=follower).count() == 2


def test_api_limits_per_token_per_user_and_per_anonymous_ip(limits, clock):
    """Ensures that every API request counts per token, per user (across tokens) and per
    anonymous IP, each refusing with the JSON 429."""
    limits(api=[("3/5m", "token"), ("5/5m", "user"), ("2/5m", "anon_ip")])
    reader = UserFactory()
    clients = []
    for name in ("a", "b"):
        _, raw = token_create(user=reader, name=name, scopes=["read"])
        client = APIClient(REMOTE_ADDR="198.51.100.50")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(client)
    first, second = clients
    for _ in range(3):
        assert first.get("/api/v1/accounts/verify_credentials").status_code == 200
    assert_api_refusal(first.get("/api/v1/accounts/verify_credentials"), "api", 3)
    # The refused request still counted for the user: 4 used, so one more, then the user limit.
    assert second.get("/api/v1/accounts/verify_credentials").status_code == 200
    assert_api_refusal(second.get("/api/v1/accounts/verify_credentials"), "api", 5)
    anonymous = APIClient(REMOTE_ADDR="198.51.100.51")
    assert anonymous.get("/api/v1/instance").status_code == 200
    assert anonymous.get("/api/v1/instance").status_code == 200
    assert_api_refusal(anonymous.get("/api/v1/instance"), "api", 2)
    # A bad token counts against the anonymous IP too (no token guessing past the limit).
    guesser = APIClient(REMOTE_ADDR="198.51.100.52")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert guesser.get("/api/v1/instance").status_code == 401
    assert guesser.get("/api/v1/instance").status_code == 401
    assert guesser.get("/api/v1/instance").status_code == 429
    clock.shift(timedelta(minutes=5, seconds=1))
    assert first.get("/api/v1/accounts/verify_credentials").status_code == 200


def test_paging_limited_per_reader_on_web_and_api(limits, clock):
    """Ensures that requests carrying max_id/min_id/since_id count against "paging" per reader
    on the web and the API together, and that a first page (no cursor) is not counted."""
    limits(paging=[("3/15m", "principal")])
    PostFactory.create_batch(3)
    reader = UserFactory()
    web = Client()
    web.force_login(reader)
    _, raw = token_create(user=reader, name="t", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(5):
        assert web.get(reverse("feeds:public")).status_code == 200
    assert web.get(reverse("feeds:public"), {"max_id": 999999}).status_code == 200
    assert api.get("/api/v1/timelines/public", {"since_id": 1}).status_code == 200
    assert api.get("/api/v1/timelines/home", {"min_id": 1}).status_code == 200
    assert_api_refusal(api.get("/api/v1/timelines/public", {"max_id": 999999}), "paging", 3)
    assert_web_refusal(web.get(reverse("feeds:public"), {"max_id": 999999}), "paging", 3)
    assert web.get(reverse("feeds:public")).status_code == 200


def test_anonymous_paging_keyed_by_ip_prefix(limits, clock):
    """Ensures that logged-out paging is keyed by the IP prefix, like the read budget."""
    limits(paging=[("1/15m", "principal")])
    assert Client(REMOTE_ADDR="2001:db8:5::1").get("/public/", {"max_id": 5}).status_code == 200
    assert Client(REMOTE_ADDR="2001:db8:5::2").get("/public/", {"max_id": 5}).status_code == 429
    assert Client(REMOTE_ADDR="2001:db8:6::1").get("/public/", {"max_id": 5}).status_code == 200


def test_refusal_does_not_reach_the_read_gate(limits, clock):
    """Ensures that a refused paging request charges nothing and carries no read-budget
    headers that could be confused with its own."""
    limits(paging=[("1/15m", "principal")])
    PostFactory.create_batch(2)
    client = APIClient(REMOTE_ADDR="198.51.100.60")
    ok = client.get("/api/v1/timelines/public", {"since_id": 1})
    assert ok.status_code == 200
    assert '"daily-reads"' in ok["RateLimit-Policy"]
    refused = client.get("/api/v1/timelines/public", {"since_id": 1})
    assert refused.status_code == 429
    assert refused["RateLimit-Policy"].startswith('"paging"')
    assert "X-Reads-Used" not in refused


def test_ratelimit_check_returns_the_broken_rule(limits, clock, make_request):
    """Ensures that ratelimit_check counts and returns None while within the limit, then the
    broken rule with its figures."""
    limits(signup=[("2/1m", "ip"), ("10/1h", "ip")])
    request = make_request(ip="192.0.2.1")
    assert ratelimit_check(request, "signup") is None
    assert ratelimit_check(request, "signup") is None
    broken = ratelimit_check(request, "signup")
    assert (broken.group, broken.rate, broken.limit, broken.window_seconds) == (
        "signup",
        "2/1m",
        2,
        60,
    )
    assert broken.remaining == 0
    assert 1 <= broken.retry_after <= 60
    assert ratelimit_check(request, "no-such-group") is None


def test_disabled_switch(limits, clock, settings):
    """Ensures that RATELIMIT_ENABLE off (REQUEST_RATE_LIMITS_ENABLED=0) lets everything through."""
    settings.RATELIMIT_ENABLE = False
    client = Client(REMOTE_ADDR="198.51.100.70")
    for n in range(8):
        assert signup_post(client, n).status_code == 400


def test_cache_down_fails_open(limits, clock, settings):
    """Ensures that when the Redis cache behind the counters is stopped, requests go through
    (fail open, logged) instead of a 500: the read budget keeps its own Redis-down policy."""
    pytest.importorskip("redis")
    import shutil

    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        pytest.skip("needs redis-server to start and stop its own Redis")
    server = RedisServer()
    try:
        cache_settings = {
            "default": settings.CACHES["default"],
            "ratelimit": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": server.url,
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
            },
        }
        with override_settings(CACHES=cache_settings, RATELIMIT_USE_CACHE="ratelimit"):
            client = Client(REMOTE_ADDR="198.51.100.80")
            for n in range(5):
                signup_post(client, n)
            assert signup_post(client, 5).status_code == 429  # counting in Redis works
            server.stop()
            assert signup_post(client, 6).status_code == 400  # Redis gone: let through
            caches["ratelimit"].close()
    finally:
        server.stop()


def test_system_check_silenced_only_on_embedded_default():
    """Ensures that django-ratelimit's refusal of the in-process cache (E003) is silenced on
    the embedded default only: with REDIS_URL set nothing is silenced and django-redis passes
    the check."""
    assert any(error.id == "django_ratelimit.E003" for error in _check_with_locmem())

    def run(redis_url: str) -> str:
        env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": "k" * 40, "DEBUG": "0"}
        code = (
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'microblog.settings'); django.setup(); from django.conf import settings; "
            "from django_ratelimit.checks import check_caches; "
            "print(sorted(settings.SILENCED_SYSTEM_CHECKS), [e.id for e in check_caches(None)])"
        )
        result = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    assert run("") == (
        "['django_ratelimit.E003', 'django_ratelimit.W001'] "
        "['django_ratelimit.E003', 'django_ratelimit.W001']"
    )
    assert run("redis://127.0.0.1:6399/0") == "[] []"


def _check_with_locmem():
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        return check_caches(None)
