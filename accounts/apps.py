from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, their profiles and their API tokens."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
