"""Celery tasks for accounts: thin shells that load by id and call a service."""

from celery import shared_task

from . import services
from .models import User


@shared_task
def email_confirmation_send_task(user_id: int) -> None:
    """Send a confirmation link to an account, off the request (queue it after commit)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        services.email_confirmation_send(user=user)


@shared_task
def email_confirmations_catch_up_task() -> int:
    """Beat, every 5 minutes: send the links sign-ups could not queue while the broker was down."""
    return services.email_confirmations_catch_up()
