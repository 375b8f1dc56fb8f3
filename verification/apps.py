from django.apps import AppConfig


class VerificationConfig(AppConfig):
    """Paid verification (billing): plans, subscriptions, payment providers, their pages and
    webhooks. Beside feeds/, above access/: it reads open scrape flags to refuse a badge."""

    name = "verification"
    default_auto_field = "django.db.models.BigAutoField"
