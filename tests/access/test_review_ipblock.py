"""The IP blocklist middleware: blocked networks get a clear 403 (HTML, or JSON on the API)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from access.models import IPBlock
from core.client_ip import review_prefix

pytestmark = pytest.mark.django_db

MIDDLEWARE = "access.ipblock.IPBlockMiddleware"


@pytest.fixture(autouse=True)
def _with_middleware(settings):
    """Install the middleware where docs/audit.md says the project puts it."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(
            middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1, MIDDLEWARE
        )
        settings.MIDDLEWARE = middleware


def test_review_prefix_is_a_24_or_a_64():
    """Ensures that reviewers act on IPv4 /24s and IPv6 /64s."""
    assert review_prefix("198.51.100.23") == "198.51.100.0/24"
    assert review_prefix("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert review_prefix("::ffff:198.51.100.23") == "198.51.100.0/24"
    assert review_prefix("garbage") == ""


def test_a_blocked_network_gets_a_403_page_and_others_do_not(client):
    """Ensures that a page request from a blocked /24 gets a 403 page saying why and what to
    do, and a neighbouring network is served."""
    IPBlock.objects.create(prefix="198.51.100.0/24", reason="scraper farm")
    blocked = client.get("/public/", REMOTE_ADDR="198.51.100.200")
    assert blocked.status_code == 403
    html = blocked.content.decode()
    assert "Your network is blocked" in html and "198.51.100.0/24" in html
    assert "contact support" in html
    assert client.get("/public/", REMOTE_ADDR="198.51.101.1").status_code == 200


def test_a_blocked_network_gets_json_on_the_api(client):
    """Ensures that API requests from a blocked /64 get Mastodon-style JSON with an error."""
    IPBlock.objects.create(prefix="2001:db8:1:2::/64", reason="token sharing")
    response = client.get("/api/v1/timelines/public", REMOTE_ADDR="2001:db8:1:2::99")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert "blocked" in response.json()["error"] and response.json()["code"] == "ip_blocked"


def test_expired_blocks_and_the_admin_are_not_blocked(client):
    """Ensures that an expired block is ignored and the admin stays reachable to lift one."""
    IPBlock.objects.create(
        prefix="203.0.113.0/24", reason="old", expires_at=timezone.now() - timedelta(hours=1)
    )
    assert client.get("/public/", REMOTE_ADDR="203.0.113.5").status_code == 200
    IPBlock.objects.create(prefix="192.0.2.0/24", reason="x")
    assert client.get("/admin/login/", REMOTE_ADDR="192.0.2.1").status_code == 200


def test_blocking_from_a_flag_applies_at_once(client):
    """Ensures that blocking clears the cached blocklist: the next request is refused."""
    from access.models import Flag
    from access.services_review import flag_block_prefix
    from tests.factories import UserFactory

    assert client.get("/public/", REMOTE_ADDR="198.51.100.7").status_code == 200  # caches "none"
    now = timezone.now()
    flag = Flag.objects.create(
        principal="net:198.51.100.0/24",
        rule="shared_prefix",
        score=70,
        first_seen=now,
        last_seen=now,
        ip_prefix="198.51.100.0/24",
    )
    admin = UserFactory(is_staff=True, is_superuser=True)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        flag_block_prefix(flag=flag, actor=admin, reason="farm")
    assert client.get("/public/", REMOTE_ADDR="198.51.100.7").status_code == 403
