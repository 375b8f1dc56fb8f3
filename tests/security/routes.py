"""Every route of the URL conf, with sample values for its parameters."""

import itertools
import re

from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE = {
    "post_id": "{post}",
    "status_id": "{post}",
    "account_id": "{user}",
    "username": "{name}",
    "notification_id": "{post}",  # any id: a missing one must answer 404, never 500
    "tag": "{name}",
    "hashtag": "{name}",
    "media_id": "{post}",  # any id: someone else's or a missing upload must answer 404
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


_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def route_paths(samples: dict[str, list[str]], fallback: list[str]) -> list[tuple[str, str]]:
    """Every route as concrete paths: each parameter takes each of its ``samples`` (by name),
    or for a name with none, each of ``fallback`` — so a new route with a new parameter is
    still walked, with no list to update. Left out as in ``route_templates``: the admin and
    regex routes (a catch-all has no one path). Pairs of (route pattern, path).
    """
    paths = set()
    for raw in _walk(get_resolver().url_patterns):
        if raw.startswith("admin/") or "^" in raw or "(?" in raw or "\\" in raw:
            continue
        names = _PARAMETER.findall(raw)
        known = [samples[name] for name in names if name in samples]
        # Unknown parameters move together through the fallbacks (not their product: two
        # of them would be hundreds of paths).
        unknown = [[value] for value in fallback] if len(known) < len(names) else [[]]
        for known_values, unknown_value in itertools.product(itertools.product(*known), unknown):
            known_iter, path = iter(known_values), raw
            for name in names:
                value = next(known_iter) if name in samples else unknown_value[0]
                path = _PARAMETER.sub(lambda _match, value=value: value, path, count=1)
            paths.add((raw, "/" + path.lstrip("^").rstrip("$")))
    return sorted(paths)
