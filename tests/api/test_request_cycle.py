"""The API's request cycle (api/views/base.py): what the base view works out faster than DRF
does must be what DRF would have answered, on every API view of the URLconf."""

import pytest
from django.test import RequestFactory
from django.urls import URLResolver, get_resolver
from rest_framework.request import Request
from rest_framework.views import APIView

from api.views.base import ApiView

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/jsonl",
    "text/html",
    "application/json; indent=4",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/json, */*",
    "image/png",
]
QUERIES = [{}, {"format": "json"}, {"format": "api"}, {"format": "jsonl"}, {"format": "xml"}]


def api_views() -> dict[type, dict]:
    """Every ApiView class the URLconf routes to, with the arguments of its route."""
    found: dict[type, dict] = {}

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            cls = getattr(pattern.callback, "cls", None)
            if cls is not None and issubclass(cls, ApiView):
                found.setdefault(cls, pattern.callback.initkwargs)

    walk(get_resolver().url_patterns)
    return found


def _outcome(negotiate):
    try:
        renderer, media_type = negotiate()
    except Exception as exc:  # noqa: BLE001 - the refusal itself is compared
        return type(exc).__name__
    return type(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
def test_content_negotiation_answers_as_drf(accept):
    """Ensures that the base view's content negotiation picks the renderer and media type
    DRF's picks (or refuses alike), for every API view, Accept header and format."""
    views = api_views()
    assert len(views) > 30
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    for cls, initkwargs in views.items():
        for query in QUERIES:
            view = cls(**initkwargs)
            view.format_kwarg = None
            request = Request(RequestFactory().get("/", query, **headers))
            ours = _outcome(lambda: view.perform_content_negotiation(request))  # noqa: B023
            drf = _outcome(lambda: APIView.perform_content_negotiation(view, request))  # noqa: B023
            assert ours == drf, (cls.__name__, accept, query)
