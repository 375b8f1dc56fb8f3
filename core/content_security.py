"""The Content-Security-Policy header (django-csp), with the site's policy built once.

django-csp builds the policy string from settings on every response, twice (enforced and
report-only): ~30 µs of a ~250 µs trivial request (docs/performance.md). The site's policy
only changes with its settings, so it is built once per setting and reused; a response or
request with a policy of its own (django-csp's decorators, a nonce) is built by django-csp
as before.
"""

from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What makes a response's policy its own (django-csp's decorators set these).
_OWN_POLICY = tuple(
    f"_csp_{kind}{suffix}" for kind in ("config", "update", "replace") for suffix in ("", "_ro")
)
_site_policies: dict[bool, str] = {}


@receiver(setting_changed, dispatch_uid="core.content_security.site_policies_forget")
def _site_policies_forget(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _site_policies.clear()


def _site_policy(report_only: bool) -> str:
    policy = _site_policies.get(report_only)
    if policy is None:
        policy = _site_policies[report_only] = build_policy(report_only=report_only)
    return policy


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's middleware, reusing the site's policy (same headers, same exemptions)."""

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _OWN_POLICY
        ):
            return super().process_response(request, response)
        if response.status_code in (404, 500) and settings.DEBUG:
            return response  # django-csp leaves Django's debug pages alone
        for header, report_only, exempt, setting in (
            (HEADER, False, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, True, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            policy = _site_policy(report_only)
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written is an error.
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
