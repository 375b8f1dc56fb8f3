"""Tests for the one client-IP rule and the prefix anonymous readers are grouped by."""

import pytest
from django.test import RequestFactory

from core.client_ip import client_ip, ip_prefix


def request_from(remote, xff=None):
    headers = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_remote_addr_without_trusted_proxies(settings):
    """Ensures that with no trusted proxy a forged X-Forwarded-For is ignored."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("198.51.100.9", "1.2.3.4")) == "198.51.100.9"


def test_nth_from_the_right_with_trusted_proxies(settings):
    """Ensures that the Nth X-Forwarded-For entry from the right is the client, and entries
    the client wrote further left are never believed."""
    settings.TRUSTED_PROXY_COUNT = 1
    forged = request_from("10.0.0.1", "6.6.6.6, 203.0.113.7")
    assert client_ip(forged) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from("10.0.0.2", "6.6.6.6, 203.0.113.7, 10.0.0.1")) == ("203.0.113.7")


def test_trusted_proxy_without_header_uses_the_peer(settings):
    """Ensures that a request reaching us without X-Forwarded-For is keyed by its peer."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("203.0.113.50")) == "203.0.113.50"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7:5678", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-ip", "10.0.0.1"),
        ("", "10.0.0.1"),
        ("999.1.1.1", "10.0.0.1"),
    ],
)
def test_proxy_address_forms_and_garbage(settings, raw, expected):
    """Ensures that ports, brackets, mapped IPv4 and zone ids are understood, and a garbled
    entry falls back to the peer instead of failing."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("10.0.0.1", raw)) == expected


def test_garbage_remote_addr_is_unknown(settings):
    """Ensures that an unparseable REMOTE_ADDR gives None (grouped as "unknown"), not a 500."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("garbage")) is None
    assert ip_prefix(None) == "unknown"


def test_prefixes():
    """Ensures that IPv4 is keyed by /32 and IPv6 by its /64."""
    assert ip_prefix("203.0.113.7") == "203.0.113.7/32"
    assert ip_prefix("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert ip_prefix("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
