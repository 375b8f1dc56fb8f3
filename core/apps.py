from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: the audit records every app writes (security events, the admin action
    log) and the helpers every app shares (client IP and prefix rules, request-rate limits,
    cache error types). It imports no other app of ours."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
