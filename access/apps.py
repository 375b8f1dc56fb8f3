from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Data-access controls: read budgets, the access log, bulk-access detection and review."""

    name = "access"
    default_auto_field = "django.db.models.BigAutoField"
