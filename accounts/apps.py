from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, their profiles and their API tokens."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.models.signals import post_delete, post_save

        from core.ratelimits import ratelimit_key_register

        from . import auth_cache
        from .emails import mailbox_ratelimit_key
        from .logins import login_failed_record, login_succeeded_record
        from .models import ApiToken, Tier, User
        from .oauth.models import OAuthApplication

        # Django's own log-in signals fire for every way in (the log-in page, the admin's,
        # any login() call), so no log-in path can skip its security event.
        user_logged_in.connect(login_succeeded_record, dispatch_uid="access-login-succeeded")
        user_login_failed.connect(login_failed_record, dispatch_uid="access-login-failed")
        ratelimit_key_register("mailbox", mailbox_ratelimit_key)
        # The API's cached authentications (auth_cache.py) are invalidated by every save of
        # the rows they were built from; queryset updates call auth_cache themselves.
        for model, receiver in (
            (User, auth_cache.user_saved),
            (ApiToken, auth_cache.token_saved),
            (OAuthApplication, auth_cache.application_saved),
            (Tier, auth_cache.tier_saved),
        ):
            for signal in (post_save, post_delete):
                signal.connect(receiver, sender=model, dispatch_uid=f"auth-cache-{model.__name__}")
