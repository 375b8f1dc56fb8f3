"""Security events for log-ins, received from Django's own log-in signals so that no way in
(the log-in page, the admin's, any ``login()`` call) can skip its record."""

from core.audit import security_event_record
from core.models import SecurityEvent

from .models import User


def login_succeeded_record(sender, request=None, user=None, **kwargs) -> None:
    """``user_logged_in`` receiver: record the log-in (who, from where, with what)."""
    security_event_record(kind=SecurityEvent.LOGIN_SUCCEEDED, user=user, request=request)


def login_failed_record(sender, credentials=None, request=None, **kwargs) -> None:
    """``user_login_failed`` receiver: record the attempt with the username as typed (the
    account it names, if any, so failures per account can be counted)."""
    username = str((credentials or {}).get("username", ""))[:150]
    target = User.objects.filter(username__iexact=username).first() if username else None
    security_event_record(
        kind=SecurityEvent.LOGIN_FAILED, user=target, username=username, request=request
    )
