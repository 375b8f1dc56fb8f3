"""Every route of the URL conf, with sample values for its parameters."""

from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE = {
    "post_id": "{post}",
    "status_id": "{post}",
    "account_id": "{user}",
    "username": "{name}",
    "notification_id": "{post}",  # any id: a missing one must answer 404, never 500
    "tag": "{name}",
    "hashtag": "{name}",
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def route_templates() -> list[str]:
    """Each route as a path with ``{post}``/``{user}``/``{name}`` where its parameters go.

    Regex catch-alls (``^api/(?!schema/|docs/)``) and the admin's own routes are left out:
    the admin is Django's, tested upstream, and a catch-all has no one path.
    """
    routes = set()
    for raw in _walk(get_resolver().url_patterns):
        if raw.startswith("admin/") or "^" in raw or "(?" in raw or "\\" in raw:
            continue
        path = raw
        for name, value in SAMPLE.items():
            for converter in ("str", "int"):
                path = path.replace(f"<{converter}:{name}>", value)
        if "<" in path:
            continue  # a parameter we have no sample for (e.g. tokens' own ids)
        routes.add("/" + path.lstrip("^").rstrip("$"))
    return sorted(routes)
