from django.apps import AppConfig


class LicensingConfig(AppConfig):
    """The licensed lane: data plans, licences, the monthly quota ledger and signed receipts."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "licensing"

    def ready(self):
        # Data plans sold through Stripe are renewed and ended by verification's one webhook.
        from .stripe_events import licensing_stripe_events_register

        licensing_stripe_events_register()
