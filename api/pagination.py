"""Mastodon's keyset pagination: ``limit``/``max_id``/``since_id``/``min_id`` in, ``Link`` out.

The ``Link`` header points at the next (older) page with ``max_id`` = the last row's id and at
the previous (newer) page with ``min_id`` = the first row's id. For lists of accounts the ids
are the rows behind the list (the Follow, Like or repost), as Mastodon does. ``next`` is only
given when the page was full, ``prev`` whenever the page was not empty.
"""

from urllib.parse import urlencode

from feeds.selectors import PageRequest

from .params import query_id, query_limit

STATUSES_LIMIT = 20  # Mastodon's DEFAULT_STATUSES_LIMIT; at most twice that
ACCOUNTS_LIMIT = 40  # Mastodon's DEFAULT_ACCOUNTS_LIMIT; at most twice that
_CURSORS = ("max_id", "since_id", "min_id")


def page_request(
    request, *, default: int = STATUSES_LIMIT, maximum: int | None = None
) -> PageRequest:
    """The page a request asks for, refusing malformed ids or limits with a 400. ``limit`` is
    at most ``maximum`` (by default twice ``default``, as Mastodon)."""
    params = request.query_params
    return PageRequest(
        max_id=query_id(params, "max_id"),
        since_id=query_id(params, "since_id"),
        min_id=query_id(params, "min_id"),
        limit=query_limit(params, default=default, maximum=maximum or default * 2),
    )


def _page_url(base: str, kept: list[tuple[str, str]], **cursor) -> str:
    """This endpoint's URL (``base``) with the request's other parameters (``kept``) and
    ``cursor`` set."""
    return base + "?" + urlencode([*kept, *cursor.items()])


def link_header(request, *, first_id: int | None, last_id: int | None, full: bool) -> str | None:
    """The ``Link`` header for a page whose rows run from ``first_id`` (newest) to ``last_id``."""
    if first_id is None or last_id is None:
        return None
    # Worked out once for both links.
    base = request.build_absolute_uri(request.path)
    lists = request.query_params.lists()
    kept = [(key, item) for key, values in lists if key not in _CURSORS for item in values]
    links = []
    if full:
        links.append(f'<{_page_url(base, kept, max_id=last_id)}>; rel="next"')
    links.append(f'<{_page_url(base, kept, min_id=first_id)}>; rel="prev"')
    return ", ".join(links)


def paginated(response, request, *, ids: list[int], page: PageRequest, fetched: int):
    """Set ``Link`` on ``response`` for a page that delivered rows with ``ids`` (in order) out of
    ``fetched`` rows read; a page cut short by the read gate still offers ``next``."""
    full = fetched >= page.limit or len(ids) < fetched
    header = link_header(
        request, first_id=ids[0] if ids else None, last_id=ids[-1] if ids else None, full=full
    )
    if header:
        response["Link"] = header
    return response
