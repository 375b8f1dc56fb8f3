from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API: Mastodon-compatible v1."""

    name = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import schema_extensions  # noqa: F401 - registers the OpenAPI auth schemes
