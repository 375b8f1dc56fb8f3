from django.apps import AppConfig


class LicensingConfig(AppConfig):
    """The licensed lane: data plans, licences, the monthly quota ledger and signed receipts."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "licensing"
