"""Celery tasks for paid verification: thin shells that call a service."""

from celery import shared_task

from . import services


# Registered under its name from before billing left accounts/, so messages already queued
# (and the beat schedule in settings) keep finding it.
@shared_task(name="accounts.tasks.subscriptions_expire_task")
def subscriptions_expire_task() -> dict[str, int]:
    """Beat, every 15 minutes: end, past-due and lapse subscriptions whose time is up."""
    return services.subscriptions_expire()
