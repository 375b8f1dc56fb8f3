from django.apps import AppConfig


class FeedsConfig(AppConfig):
    """Posts, replies, reposts, likes, follows and the timelines that show them."""

    name = "feeds"
    default_auto_field = "django.db.models.BigAutoField"
