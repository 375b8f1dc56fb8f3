"""The IP blocklist: which prefix a review acts on, and the middleware that enforces blocks.

Reviewers block whole networks, not single addresses: an IPv4 /24 or an IPv6 /64, the
grouping the shared-prefix detector uses too. Blocks are read from the shared cache (Redis),
which blocking clears, so a request costs no query; each process also keeps the parsed list
for ``ACCESS_IP_BLOCK_LOCAL_SECONDS`` (2 s), so most requests cost no round trip either. A new
block applies at once in the process that made it and within those seconds everywhere else.
"""

import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from core.cache_errors import CACHE_ERRORS
from core.client_ip import client_ip, ip_parse

from .models import IPBlock

CACHE_KEY = "access:ip-blocks:v1"
logger = logging.getLogger(__name__)

Blocks = list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]
# This process's copy: (monotonic time it goes stale, parsed blocks). Replaced whole, never
# mutated, so threads of one process can share it without a lock.
_local: tuple[float, Blocks] = (0.0, [])


def ip_blocks_active() -> Blocks:
    """The blocked networks in force now, with their reasons (this process's copy when it is
    younger than ``ACCESS_IP_BLOCK_LOCAL_SECONDS``, else the shared cache's)."""
    global _local
    stale_at, blocks = _local
    now = time.monotonic()
    if now < stale_at:
        return blocks
    blocks = _ip_blocks_shared()
    _local = (now + settings.ACCESS_IP_BLOCK_LOCAL_SECONDS, blocks)
    return blocks


def _ip_blocks_shared() -> Blocks:
    """The blocked networks in force now, with their reasons (cached briefly).

    The database is the source of truth: when the cache (Redis) is unreachable the list is read
    from it directly, so blocks stay enforced and no request fails because Redis is down.
    """
    try:
        cached = cache.get(CACHE_KEY)
    except CACHE_ERRORS as exc:
        logger.warning("IP blocklist cache unavailable, reading the database: %s", exc)
        return _parse(_blocks_from_database())
    if cached is None:
        cached = _blocks_from_database()
        try:
            cache.set(CACHE_KEY, cached, settings.ACCESS_IP_BLOCK_CACHE_SECONDS)
        except CACHE_ERRORS as exc:
            logger.warning("IP blocklist cache unavailable: %s", exc)
    return _parse(cached)


def _blocks_from_database() -> list[tuple[str, str]]:
    now = timezone.now()
    rows = IPBlock.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return [(row.prefix, row.reason) for row in rows.only("prefix", "reason")]


def _parse(cached: list[tuple[str, str]]):
    blocks = []
    for prefix, reason in cached:
        try:
            blocks.append((ipaddress.ip_network(prefix, strict=False), reason))
        except ValueError:
            continue  # a malformed row must not take the site down
    return blocks


def ip_blocks_changed() -> None:
    """Forget the cached blocklist (call after adding or removing a block)."""
    global _local
    _local = (0.0, [])
    try:
        cache.delete(CACHE_KEY)
    except CACHE_ERRORS as exc:  # the entry expires by itself within the cache timeout
        logger.warning("Could not clear the IP blocklist cache: %s", exc)


def ip_block_for(address: str | None) -> str | None:
    """The blocked network ``address`` falls in, or None."""
    parsed = ip_parse(address)
    if parsed is None:
        return None
    for network, _reason in ip_blocks_active():
        if parsed.version == network.version and parsed in network:
            return str(network)
    return None


class IPBlockMiddleware:
    """Refuses requests from blocked IP prefixes with a 403 that says why and what to do.

    API paths get Mastodon-style JSON (``{"error": ...}``); everything else an HTML page.
    ``ACCESS_IP_BLOCK_EXEMPT_PATHS`` (the admin) stay reachable so a block can be lifted.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not any(path.startswith(prefix) for prefix in settings.ACCESS_IP_BLOCK_EXEMPT_PATHS):
            network = ip_block_for(client_ip(request))
            if network is not None:
                return self.refuse(request, network)
        return self.get_response(request)

    @staticmethod
    def refuse(request, network: str):
        message = (
            f"Requests from your network ({network}) are blocked because of automated bulk "
            "reading. If you think this is a mistake, contact support and quote this network."
        )
        if request.path_info.startswith("/api/"):
            return JsonResponse({"error": message, "code": "ip_blocked"}, status=403)
        return render(
            request, "access/ip_blocked.html", {"message": message, "network": network}, status=403
        )
