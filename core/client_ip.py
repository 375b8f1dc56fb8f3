"""The one place that decides a request's client IP, and the prefix anonymous readers share.

``REMOTE_ADDR`` is the peer that opened the connection. Behind reverse proxies it is the last
proxy, so ``TRUSTED_PROXY_COUNT`` says how many proxies append to ``X-Forwarded-For``; the
client is then the Nth entry from the right. Entries further left were written by the client
itself and are never believed, so a forged ``X-Forwarded-For`` cannot choose the IP.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_parse(raw: str | None) -> IPAddress | None:
    """Parse one address as proxies write it ("1.2.3.4", "1.2.3.4:80", "[::1]:80", "fe80::1%eth0").

    Returns None for anything that is not an address; IPv4-mapped IPv6 becomes plain IPv4.
    """
    if not raw:
        return None
    value = raw.strip()
    if len(value) > 100:
        return None
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # "203.0.113.7:5678"
        value = value.split(":", 1)[0]
    value = value.split("%", 1)[0]  # an IPv6 zone id says nothing about who the client is
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address as a normalised string, or None when it cannot be known."""
    remote = ip_parse(request.META.get("REMOTE_ADDR"))
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return str(remote) if remote else None
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    if not hops:
        # Trusted proxies always append; a request without the header reached us directly.
        return str(remote) if remote else None
    # Our N proxies appended the last N entries; the Nth from the right is the address the
    # outermost proxy saw. With fewer entries every one of them was written by a proxy.
    candidate = hops[-trusted] if len(hops) >= trusted else hops[0]
    address = ip_parse(candidate)
    if address is None:
        address = remote  # a garbled proxy header: fall back to the peer, never to a guess
    return str(address) if address else None


def ip_prefix(address: str | None) -> str:
    """The network anonymous readers are grouped by: IPv4 /32, IPv6 /64 ("unknown" if none).

    One IPv6 customer typically owns a whole /64, so grouping by /64 stops a reader from
    rotating through its own addresses for fresh budgets.
    """
    parsed = ip_parse(address)
    if parsed is None:
        return "unknown"
    if isinstance(parsed, ipaddress.IPv4Address):
        return f"{parsed}/32"
    return str(ipaddress.IPv6Network((parsed, 64), strict=False))


def review_prefix(address: str | None) -> str:
    """The network reviewers group, detect and block by: IPv4 /24, IPv6 /64 ("" if unknown).

    Coarser than ``ip_prefix`` (IPv4 /32 for budgets): it is for spotting many accounts or
    addresses behind one network. The access log, the detectors and IP blocks all use it.
    """
    parsed = ip_parse(address)
    if parsed is None:
        return ""
    bits = 24 if isinstance(parsed, ipaddress.IPv4Address) else 64
    return str(ipaddress.ip_network((parsed, bits), strict=False))


def reader_principal(request: HttpRequest) -> str:
    """Whose budget a request draws on: "user:<id>", or "ip:<prefix>" for logged-out readers."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{ip_prefix(client_ip(request))}"
