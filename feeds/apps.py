from django.apps import AppConfig


class FeedsConfig(AppConfig):
    """Posts, replies, reposts, likes, follows and the timelines that show them."""

    name = "feeds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from accounts.moderation import account_visibility_listener_register

        from . import unread_counts
        from .home_timelines import home_feed_author_visibility_queue
        from .models import Marker, Notification

        # A suspension or reinstatement changes whose posts the home timelines may hold.
        account_visibility_listener_register(home_feed_author_visibility_queue)
        # ... and whose notifications count as unread; so does every notification written or
        # deleted (cascades too) and every move of the notifications marker.
        account_visibility_listener_register(unread_counts.unread_counts_changed_everywhere)
        for signal in (post_save, post_delete):
            signal.connect(unread_counts.notification_written, sender=Notification)
        post_save.connect(unread_counts.marker_saved, sender=Marker)
