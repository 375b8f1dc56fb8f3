"""The one write function for each audit record: ``security_event_record`` and
``admin_action_log``. Call them inside the transaction of the change they record."""

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from .client_ip import client_ip
from .models import AdminActionLog, SecurityEvent

USER_AGENT_MAX = SecurityEvent._meta.get_field("user_agent").max_length


def security_event_record(
    *,
    kind: str,
    user=None,
    username: str = "",
    request: HttpRequest | None = None,
    details: dict | None = None,
) -> SecurityEvent:
    """Record an account event worth auditing (log-ins, tokens, tier and verification).

    Call it inside the transaction of the change it records, when there is one.
    """
    address = client_ip(request) if request is not None and request.META else None
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    if user is not None and not getattr(user, "is_authenticated", True):
        user = None
    if not username and user is not None:
        username = user.get_username()
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or "")[:150],
        client_ip=address,
        user_agent=agent[:USER_AGENT_MAX],
        details=details or {},
    )


def admin_action_log(
    *,
    actor,
    action: AdminActionLog.Action | str,
    target: models.Model | None,
    reason: str = "",
    details: dict | None = None,
) -> AdminActionLog:
    """Record an admin's action (call it inside the action's own transaction)."""
    return AdminActionLog.objects.create(
        actor=actor,
        action=action,
        target_content_type=ContentType.objects.get_for_model(target) if target else None,
        target_object_id=str(target.pk) if target else "",
        target_repr=str(target)[:200] if target else "",
        reason=reason,
        details=details or {},
        created_at=timezone.now(),
    )
