"""Deployment check: the dev provider gives verification away, so warn before production."""

from django.conf import settings
from django.core.checks import Warning, register


@register("security", deploy=True)
def dev_provider_in_production(app_configs, **kwargs):
    """`manage.py check --deploy` warns when the TEST MODE checkout would be live."""
    if settings.PAYMENTS_PROVIDER == "dev" and not settings.DEBUG:
        return [
            Warning(
                "PAYMENTS_PROVIDER is 'dev': anyone can press Pay on the TEST MODE checkout "
                "and get verified for free.",
                hint="Set PAYMENTS_PROVIDER=stripe with STRIPE_SECRET_KEY and "
                "STRIPE_WEBHOOK_SECRET (see docs/verification.md).",
                id="accounts.W001",
            )
        ]
    return []
