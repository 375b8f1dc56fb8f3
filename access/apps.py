from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Data-access controls: read budgets, request-rate limits, access log and review."""

    name = "access"
    default_auto_field = "django.db.models.BigAutoField"
