"""The Content-Security-Policy header (core/content_security.py): the site's policy built once
must give every response exactly the headers django-csp's own middleware gives it."""

import pytest
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from core.content_security import CSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"], "report-uri": "/csp-report/"}}


def _header_already_set():
    response = HttpResponse()
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


# Each kind of response, made afresh for each middleware.
RESPONSES = {
    "a page": lambda: HttpResponse("<p>hi</p>"),
    "JSON": lambda: JsonResponse({"status": "ok"}),
    "a 404": lambda: HttpResponse(status=404),
    "a 500": lambda: HttpResponse(status=500),
    "exempt": lambda: csp_exempt()(lambda request: HttpResponse())(None),
    "own policy": lambda: csp_update({"img-src": ["https://example.org"]})(
        lambda request: HttpResponse()
    )(None),
    "header already set": _header_already_set,
}


def _headers(middleware_class, path: str, response):
    middleware = middleware_class(lambda request: response)
    request = RequestFactory().get(path)
    middleware.process_request(request)
    response = middleware.process_response(request, response)
    return {
        name: response.get(name)
        for name in ("Content-Security-Policy", "Content-Security-Policy-Report-Only")
    }


@pytest.mark.parametrize("report_only", [None, REPORT_ONLY])
@pytest.mark.parametrize("debug", [False, True])
def test_headers_are_django_csps(settings, report_only, debug):
    """Ensures that every kind of response gets the same CSP headers from ours as from
    django-csp's middleware, with and without a report-only policy, DEBUG on and off, and
    after the policy setting changes."""
    settings.DEBUG = debug
    if report_only is not None:
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = report_only
    for round_ in ("first", "remembered"):
        for label, make in RESPONSES.items():
            for path in ("/", "/api/v1/timelines/home"):
                ours = _headers(CSPMiddleware, path, make())
                theirs = _headers(DjangoCSPMiddleware, path, make())
                assert ours == theirs, (label, path, round_)
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {"default-src": ["'self'", "data:"]},
        "EXCLUDE_URL_PREFIXES": ["/api/"],
    }
    assert _headers(CSPMiddleware, "/", HttpResponse()) == {
        "Content-Security-Policy": "default-src 'self' data:",
        "Content-Security-Policy-Report-Only": _headers(DjangoCSPMiddleware, "/", HttpResponse())[
            "Content-Security-Policy-Report-Only"
        ],
    }
    assert _headers(CSPMiddleware, "/api/v1/timelines/home", HttpResponse()) == _headers(
        DjangoCSPMiddleware, "/api/v1/timelines/home", HttpResponse()
    )
