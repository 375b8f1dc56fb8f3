"""URL helpers shared by the layers above."""

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


def reverse_once(viewname: str, *args) -> str:
    """``reverse(viewname, args=args)``, worked out once per script prefix and URLconf (what
    ``reverse`` reads) rather than on every call: on a hot path — every metered response's
    headers, every page of statuses — ``reverse`` was a third of the work around it. For
    paths of fixed arguments (a route's name, or stand-ins a caller splits on)."""
    return _reversed(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, viewname, args)


@lru_cache(maxsize=64)
def _reversed(script_prefix: str, urlconf: object, viewname: str, args: tuple) -> str:
    return reverse(viewname, args=args or None, urlconf=urlconf)
