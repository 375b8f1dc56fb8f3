"""Token scopes: the Mastodon scopes a client asks for, mapped onto ours (``read``, ``write``).

A rule of tokens, so it lives with them: the API's authentication and ``issue_token`` share it.
"""

from .models import ApiToken

# Mastodon's legacy "follow" scope covers reading and changing follows; "push" we do not offer.
SCOPE_ALIASES = {"follow": ("read", "write")}


def scopes_normalize(requested: list[str] | str) -> list[str]:
    """Map requested scopes ("read write:statuses follow") onto ours, sorted: ["read", "write"].

    Unknown scopes (e.g. "push", "admin:read") are dropped.
    """
    if isinstance(requested, str):
        requested = requested.replace(",", " ").split()
    result: set[str] = set()
    for scope in requested:
        scope = scope.strip().lower()
        if scope in SCOPE_ALIASES:
            result.update(SCOPE_ALIASES[scope])
            continue
        base = scope.split(":", 1)[0]
        if base in ApiToken.SCOPES:
            result.add(base)
    return sorted(result)
