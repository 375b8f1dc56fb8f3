from django.apps import AppConfig


class LeaksConfig(AppConfig):
    """Leak tracing: from a leaked dump of posts, name the readers who harvested it."""

    name = "leaks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the fingerprint index to post saves
