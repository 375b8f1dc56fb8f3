from django.apps import AppConfig


class FeedsConfig(AppConfig):
    """Posts, replies, reposts, likes, follows and the timelines that show them."""

    name = "feeds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts.moderation import account_visibility_listener_register

        from .home_timelines import home_feed_author_visibility_queue

        # A suspension or reinstatement changes whose posts the home timelines may hold.
        account_visibility_listener_register(home_feed_author_visibility_queue)
