"""Request-rate limits: named groups of rules in ``settings.REQUEST_RATE_LIMITS``, counted in
the shared cache under django-ratelimit's keys and windows, refused when any rule of the group
is broken. On Redis every counter a request moves, of every group it counts against, is
counted in one round trip (one script); on another cache, rule by rule by django-ratelimit.

Separate from the daily read budget (``access.gate``): these stop bursts and abuse (sign-up,
log-in, posting, follows, API calls, paging). A group is a list of ``(rate, key)`` rules; the
rate is django-ratelimit's ``"<count>/<n><s|m|h|d>"`` (``"5/30m"``) and the key says whose
counter a request moves. ``ratelimit_check()`` is the one way to check a group; the web uses
``request_rate_limit`` (a view decorator) and ``PagingRateLimitMiddleware``, the API calls
``api_request_rate_check`` from its base view.
"""

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage

from .cache_errors import CACHE_ERRORS
from .client_ip import client_ip, ip_prefix, reader_principal, review_prefix
from .redis_layout import redis_cluster_layout
from .waits import duration_text, rate_limit_headers, reset_at_iso

logger = logging.getLogger(__name__)

# The query parameters that make a request a paging request (Mastodon's keyset cursors).
PAGING_PARAMETERS = ("max_id", "min_id", "since_id")

# What each group counts, for the sentences people read ("at most 5 sign-ups every 30 min").
GROUP_NOUNS = {
    "signup": "sign-ups",
    "login": "log-in attempts",
    "login_failures": "failed log-ins for this username",
    "post": "posts",
    "follow": "follows",
    "media": "image uploads",
    "api": "API requests",
    "paging": "requests for older or newer pages",
    "password_reset": "password-reset requests",
    "password_reset_email": "password-reset requests for this email address",
    "email_change": "email changes",
    "current_password_failures": "wrong current passwords",
}
KEY_SCOPES = {
    "ip": "from your network",
    "network": "from your wider network (its IPv4 /24)",
    "anon_ip": "from your network without logging in",
    "user": "per account",
    "token": "per access token",
    "principal": "per reader",
    "username": "",
    "mailbox": "",
}


def _key_ip(request) -> str | None:
    return ip_prefix(client_ip(request))


def _key_network(request) -> str | None:
    """The client's network as reviewers see it: IPv4 /24, IPv6 /64 (a farm rotating through
    the addresses of one /24 shares this counter)."""
    return review_prefix(client_ip(request)) or None


def _key_anon_ip(request) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return None
    return _key_ip(request)


def _key_user(request) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def _key_token(request) -> str | None:
    """The API token behind the request (DRF's ``request.auth``); sessions have none."""
    token_id = getattr(getattr(request, "auth", None), "pk", None)
    return str(token_id) if token_id is not None else None


def _key_username(request) -> str | None:
    """The username a log-in form names, lower-cased (usernames are case-insensitive here)."""
    if request.method != "POST":
        return None
    username = str(request.POST.get("username", "")).strip().lower()
    return username[:150] or None


# Key kinds a rule may name; each returns None when the rule does not apply to the request
# (an anonymous request has no user, a session has no token). "mailbox" is accounts' rule
# (one inbox, every spelling): accounts/apps.py registers it with ``ratelimit_key_register``.
KEY_FUNCTIONS: dict[str, Callable[[HttpRequest], str | None]] = {
    "ip": _key_ip,
    "network": _key_network,
    "anon_ip": _key_anon_ip,
    "user": _key_user,
    "token": _key_token,
    "principal": reader_principal,  # the read budget's reader: the account, or the IP prefix
    "username": _key_username,
}


def ratelimit_key_register(kind: str, key_function: Callable[[HttpRequest], str | None]) -> None:
    """Let an app above this one name a key kind in rules (accounts: "mailbox")."""
    KEY_FUNCTIONS[kind] = key_function


@dataclass(frozen=True)
class RateLimitStatus:
    """Where one request stands against one rule of a group: ``limited`` means refuse."""

    group: str
    key: str
    rate: str
    limit: int
    window_seconds: int
    used: int
    reset_at: datetime
    limited: bool

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def retry_after(self) -> int:
        return max(math.ceil((self.reset_at - timezone.now()).total_seconds()), 1)


def ratelimit_rules(group: str) -> list[tuple[str, str]]:
    """The ``(rate, key)`` rules of a group from settings (an unknown group has none)."""
    return list(settings.REQUEST_RATE_LIMITS.get(group, []))


@dataclass(frozen=True)
class _Counter:
    """One rule's counter for one request: django-ratelimit's cache key and window for it."""

    group: str
    rate: str
    key: str
    value: str
    limit: int
    period: int
    window: int
    cache_key: str


def _counters(request, group: str) -> list[_Counter]:
    """The counters of the rules of ``group`` that apply to the request (a key function that
    answers None skips its rule), keyed exactly as django-ratelimit's ``get_usage`` keys them."""
    counters = []
    for rate, key in ratelimit_rules(group):
        value = KEY_FUNCTIONS[key](request)
        if value is None:
            continue
        limit, period = _rate_split(rate)
        # The key kind is part of the group so user 7 and token 7 never share a counter.
        kind_group = f"{group}.{key}"
        # django-ratelimit's own (private) helpers, so its get_usage reads the same counters:
        # tests/access/test_ratelimit_round_trips.py checks that against the pinned version.
        window = ratelimit_core._get_window(value, period)
        cache_key = ratelimit_core._make_cache_key(
            kind_group, window, rate, value, ratelimit_core.ALL
        )
        counters.append(_Counter(group, rate, key, value, limit, period, window, cache_key))
    return counters


# All the counters of one request in one round trip. For each group in turn and each of its
# rules: create the counter (with its window's expiry) if missing, then count the request
# (INCR) or only look (GET) — django-ratelimit's add-then-incr, but atomic, so a counter that
# expires in between is never left without an expiry. Stops after the first group with a
# broken rule (its rules are all counted), as checking the groups one by one did.
# ARGV: the number of groups, 1 to stop at the first broken group (0 to go on), then per
# group: its number of rules, 1 to count (0 to look), and per rule: its expiry in seconds and
# its limit. Returns the counts it read, in order.
_COUNT_LUA = """
local counts = {}
local k, a = 1, 3
for g = 1, tonumber(ARGV[1]) do
  local rules, counting = tonumber(ARGV[a]), ARGV[a + 1] == '1'
  a = a + 2
  local broken = false
  for r = 1, rules do
    local expiry, limit = ARGV[a], tonumber(ARGV[a + 1])
    a = a + 2
    local used
    if counting then
      if redis.call('SET', KEYS[k], 1, 'NX', 'EX', expiry) then
        used = 1
      else
        used = redis.call('INCR', KEYS[k])
      end
      broken = broken or used > limit
    else
      if redis.call('SET', KEYS[k], 0, 'NX', 'EX', expiry) then
        used = 0
      else
        used = tonumber(redis.call('GET', KEYS[k])) or 0
      end
      broken = broken or used >= limit
    end
    counts[#counts + 1] = used
    k = k + 1
  end
  if broken and ARGV[2] == '1' then break end
end
return counts
"""
_count_scripts: dict[int, object] = {}


def _counters_redis():
    """The raw Redis client behind the request-rate cache and that cache, or (None, cache)
    when it is not django-redis (the embedded default's in-process cache)."""
    backend = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    client = getattr(backend, "client", None)
    if client is None or not hasattr(client, "get_client") or not hasattr(client, "make_key"):
        return None, backend
    if redis_cluster_layout():
        # django-ratelimit's keys carry no hash tag: one request's counters span slots, which
        # one script cannot take on Redis Cluster (CROSSSLOT). Key by key, as it does itself.
        return None, backend
    return client.get_client(write=True), backend


def _counts_redis(client, backend, checks, *, stop_at_refusal: bool) -> list[int]:
    """Count (or look at) every counter of ``checks`` — ``(counting, counters)`` per group —
    in one script call; the counts of the groups evaluated, in order."""
    script = _count_scripts.get(id(client))
    if script is None:
        script = _count_scripts[id(client)] = client.register_script(_COUNT_LUA)
    keys, args = [], [len(checks), int(stop_at_refusal)]
    for counting, counters in checks:
        args += [len(counters), int(counting)]
        for counter in counters:
            keys.append(backend.client.make_key(counter.cache_key))
            args += [counter.period + ratelimit_core.EXPIRATION_FUDGE, counter.limit]
    return [int(count) for count in script(keys=keys, args=args)]


def _count_one(request, counter: _Counter, *, counting: bool) -> int | None:
    """One counter through django-ratelimit itself (a cache other than Redis), or None when
    it could not be read or written."""
    usage = get_usage(
        request,
        group=f"{counter.group}.{counter.key}",
        key=lambda _group, _request: counter.value,
        rate=counter.rate,
        increment=counting,
    )
    if usage is None or (usage["limit"] == 0 and usage["time_left"] == -1):
        return None
    return usage["count"]


def _status(counter: _Counter, used: int, *, counting: bool) -> RateLimitStatus:
    # Counting this request, the rule is broken past the limit; peeking (nothing counted), it
    # is broken once the limit is reached, since the next counted attempt would exceed it.
    limited = used > counter.limit if counting else used >= counter.limit
    time_left = counter.window - int(time.time())
    return RateLimitStatus(
        group=counter.group,
        key=counter.key,
        rate=counter.rate,
        limit=counter.limit,
        window_seconds=counter.period,
        used=min(used, counter.limit),
        reset_at=timezone.now() + timedelta(seconds=max(time_left, 0)),
        limited=limited,
    )


def _groups_evaluate(
    request, checks: list[tuple[str, bool]], *, stop_at_refusal: bool
) -> list[list[RateLimitStatus]]:
    """The request's standing against each group of ``checks`` (``(group, counting)``, in
    order), counted where ``counting``; with ``stop_at_refusal`` the groups after the first
    one with a broken rule are neither counted nor returned. One Redis round trip for all of
    them; fails open (nothing returned, logged) when the cache cannot be reached."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return []
    evaluated = [(counting, _counters(request, group)) for group, counting in checks]
    evaluated = [(counting, counters) for counting, counters in evaluated if counters]
    if not evaluated:
        return []
    client, backend = _counters_redis()
    if client is not None:
        try:
            counts = iter(
                _counts_redis(client, backend, evaluated, stop_at_refusal=stop_at_refusal)
            )
        except CACHE_ERRORS:  # the cache is unreachable: fail open (docs/read-budgets.md)
            logger.warning("request-rate limits not checked: cache unavailable")
            return []
    results = []
    for counting, counters in evaluated:
        statuses = []
        for counter in counters:
            if client is not None:
                used = next(counts, None)
                if used is None:  # a later group the script did not reach
                    return results
            else:
                try:
                    used = _count_one(request, counter, counting=counting)
                except Exception:  # as above, one rule at a time
                    used = None
                if used is None:
                    logger.warning(
                        "request-rate limit %s/%s not checked: cache unavailable",
                        counter.group,
                        counter.key,
                    )
                    continue
            statuses.append(_status(counter, used, counting=counting))
        results.append(statuses)
        if stop_at_refusal and any(status.limited for status in statuses):
            break
    return results


RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _rate_split(rate: str) -> tuple[int, int]:
    """``"5/30m"`` → ``(5, 1800)``, as django-ratelimit reads it."""
    count, _, period = rate.partition("/")
    multiple, unit = period[:-1] or "1", period[-1:]
    return int(count), int(multiple) * RATE_PERIODS[unit]


def ratelimit_statuses(
    request, group: str, *, increment: bool = False, peek: bool = True
) -> list[RateLimitStatus]:
    """The request's standing against every rule of ``group`` that applies to it (counted
    with ``increment``; ``peek`` is its opposite, kept for callers that name it)."""
    for statuses in _groups_evaluate(request, [(group, increment)], stop_at_refusal=False):
        return statuses
    return []


def _broken(statuses: list[RateLimitStatus]) -> RateLimitStatus | None:
    """The broken rule that frees up last, or None."""
    broken = [status for status in statuses if status.limited]
    return max(broken, key=lambda status: status.reset_at) if broken else None


def ratelimit_check(request, group: str, *, count: bool = True) -> RateLimitStatus | None:
    """Count this request against every applicable rule of ``group``; return the broken rule
    that frees up last, or None when the request may go on.

    ``count=False`` only looks (e.g. failed log-ins are counted when they fail, but checked
    before the attempt).
    """
    return _first_refusal(request, [(group, count)])


def _first_refusal(request, checks: list[tuple[str, bool]]) -> RateLimitStatus | None:
    """The broken rule of the first group of ``checks`` that has one (the groups after it
    are not counted), in one round trip."""
    for statuses in _groups_evaluate(request, checks, stop_at_refusal=True):
        refused = _broken(statuses)
        if refused is not None:
            return refused
    return None


def ratelimit_check_all(request, groups: Iterable[str]) -> RateLimitStatus | None:
    """``ratelimit_check`` for several groups in turn, stopping at the first refusal (one
    round trip for all of them)."""
    return _first_refusal(request, [(group, True) for group in groups])


def is_paging_request(request) -> bool:
    """A request that follows a keyset cursor (any max_id/min_id/since_id)."""
    return any(name in request.GET for name in PAGING_PARAMETERS)


# --- Telling the client ---------------------------------------------------------------------


def window_text(seconds: int) -> str:
    """A window as people say it: "30 min", "3 h", "day"."""
    if seconds == 86400:
        return "day"
    return duration_text(seconds)


def rate_limited_message(status: RateLimitStatus) -> str:
    """One paragraph for a person: what was refused, the limit, and when to try again."""
    noun = GROUP_NOUNS.get(status.group, "requests")
    scope = KEY_SCOPES.get(status.key, "")
    when = status.reset_at.astimezone(timezone.get_fixed_timezone(0)).strftime("%H:%M")
    limit = f"at most {status.limit} {noun} every {window_text(status.window_seconds)}"
    if scope:
        limit = f"{limit} {scope}"
    return (
        f"Too many requests: we allow {limit}. Please wait {duration_text(status.retry_after)} "
        f"(until {when} UTC) and try again; nothing was done with this request."
    )


def rate_limited_payload(status: RateLimitStatus) -> dict:
    """The JSON body of a request-rate 429, shaped like the read-budget refusal's."""
    return {
        "error": rate_limited_message(status),
        "code": "rate_limited",
        "limit": status.limit,
        "remaining": 0,
        "reset_at": reset_at_iso(status),
        "policy": status.group,
    }


def rate_limited_headers(status: RateLimitStatus) -> dict[str, str]:
    """``Retry-After``, the IETF draft's ``RateLimit-Policy``/``RateLimit`` naming the group,
    and Mastodon's ``X-RateLimit-*``. A refused request never reached the read gate, so these
    never replace the daily-reads headers."""
    return {
        "Retry-After": str(status.retry_after),
        **rate_limit_headers(
            status,
            policy=status.group,
            quota=status.limit,
            window_seconds=status.window_seconds,
            remaining=0,
            reset_in=status.retry_after,
        ),
    }


def rate_limited_page(request, status: RateLimitStatus) -> HttpResponse:
    """The web UI's request-rate 429: a friendly page saying what, why and when."""
    context = {
        "status": status,
        "message": rate_limited_message(status),
        "reset_at_iso": reset_at_iso(status),
        "noun": GROUP_NOUNS.get(status.group, "requests"),
        "window": window_text(status.window_seconds),
    }
    response = render(request, "core/rate_limited.html", context, status=429)
    for name, value in rate_limited_headers(status).items():
        response[name] = value
    return response


# --- Web: view decorators -------------------------------------------------------------------


def request_rate_limit(
    *groups: str, methods: Iterable[str] = ("POST",), peek: Iterable[str] = ()
) -> Callable:
    """Refuse a view with the 429 page when a request with one of ``methods`` breaks a rule
    of ``groups`` (counted) or of ``peek`` (only looked at; counted elsewhere)."""
    methods = {method.upper() for method in methods}
    peek = tuple(peek)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in methods:
                checks = [(group, True) for group in groups] + [(group, False) for group in peek]
                refused = _first_refusal(request, checks)
                if refused is not None:
                    return rate_limited_page(request, refused)
            return view(request, *args, **kwargs)

        # Which groups guard the view, so a test walking the URLconf can check every log-in form.
        wrapped.request_rate_groups = (*groups, *peek)
        return wrapped

    return decorator


def login_rate_limit(view: Callable) -> Callable:
    """The one log-in limit, for every log-in form (the site's and the admin's): each POST
    counts against "login" (per IP), and "login_failures" (per username, counted when a
    log-in fails, on whichever form) refuses before the password is even checked."""
    return request_rate_limit("login", peek=["login_failures"])(view)


@receiver(user_login_failed, dispatch_uid="core.ratelimits.login_failure_count")
def login_failure_count(sender, credentials, request=None, **kwargs):
    """Counts a failed log-in against its username ("login_failures"); successes are free."""
    if request is not None and getattr(request, "method", None) == "POST":
        ratelimit_check(request, "login_failures")


# --- API ------------------------------------------------------------------------------------


class RequestRateLimited(Exception):
    """Raised by the API's base view when a request breaks a request-rate rule (→ 429)."""

    def __init__(self, status: RateLimitStatus):
        super().__init__(status.group)
        self.status = status


def api_request_rate_check(request, extra_groups: Iterable[str] = ()) -> None:
    """Every API request counts against "api" (per token, per user, per anonymous IP), paging
    requests also against "paging", and the view's own ``extra_groups`` (e.g. "post").

    Raises ``RequestRateLimited`` at the first broken rule.
    """
    groups = ["api"]
    if is_paging_request(request):
        groups.append("paging")
    groups.extend(extra_groups)
    refused = ratelimit_check_all(request, groups)
    if refused is not None:
        raise RequestRateLimited(refused)
