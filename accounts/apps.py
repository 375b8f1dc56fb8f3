from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, their profiles and their API tokens."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from core.ratelimits import ratelimit_key_register

        from .emails import mailbox_ratelimit_key
        from .logins import login_failed_record, login_succeeded_record

        # Django's own log-in signals fire for every way in (the log-in page, the admin's,
        # any login() call), so no log-in path can skip its security event.
        user_logged_in.connect(login_succeeded_record, dispatch_uid="access-login-succeeded")
        user_login_failed.connect(login_failed_record, dispatch_uid="access-login-failed")
        ratelimit_key_register("mailbox", mailbox_ratelimit_key)
