"""Paid verification pages: status and eligibility, checkout, cancel, billing portal, the dev
provider's TEST MODE checkout and the Stripe webhook. Thin: each view
parses input and calls one service or selector."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import services
from .payments.stripe_events import WebhookRejected, stripe_event_handle, stripe_event_verify
from .selectors import subscription_current, subscription_get_for_checkout, verification_overview

logger = logging.getLogger(__name__)


def _error_messages(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
@require_GET
def verification_status(request):
    """Current verification, the eligibility checklist, the price and what to do next."""
    if request.GET.get("checkout") == "cancelled":
        messages.info(request, "Checkout cancelled. You have not been charged.")
    overview = verification_overview(user=request.user)
    return render(request, "verification/status.html", {"overview": overview})


@login_required
@require_POST
def verification_checkout(request):
    """ "Get verified": start a checkout with the configured provider and go there."""
    try:
        _, url = services.subscription_checkout_start(user=request.user, request=request)
    except ValidationError as exc:
        _error_messages(request, exc)
        return redirect("accounts:verification")
    return redirect(url)


@login_required
@require_GET
def verification_return(request):
    """Where Stripe Checkout sends the buyer after paying; the webhook does the activation."""
    messages.success(
        request,
        "Thank you! Your payment is being confirmed; your badge appears as soon as it is.",
    )
    return redirect("accounts:verification")


@login_required
@require_POST
def verification_cancel(request):
    """Stop renewing; the account stays verified until the end of the paid period."""
    subscription = subscription_current(user=request.user)
    if subscription is None or not subscription.is_live:
        messages.error(request, "You have no active verification to cancel.")
        return redirect("accounts:verification")
    try:
        subscription = services.subscription_cancel(subscription=subscription)
    except ValidationError as exc:
        _error_messages(request, exc)
        return redirect("accounts:verification")
    if subscription.current_period_end:
        until = f"{subscription.current_period_end:%Y-%m-%d %H:%M} UTC"
        messages.success(request, f"Cancelled. You stay verified until {until}.")
    else:
        messages.success(request, "Cancelled.")
    return redirect("accounts:verification")


@login_required
@require_POST
def verification_portal(request):
    """Send a subscriber to the provider's billing page (card, invoices)."""
    subscription = subscription_current(user=request.user)
    if subscription is None:
        raise Http404("No subscription.")
    try:
        url = services.subscription_billing_portal_start(subscription=subscription, request=request)
    except ValidationError as exc:
        _error_messages(request, exc)
        return redirect("accounts:verification")
    return redirect(url)


def _dev_only() -> None:
    if settings.PAYMENTS_PROVIDER != "dev":
        raise Http404("The test-mode checkout is only available with PAYMENTS_PROVIDER=dev.")


@login_required
@require_http_methods(["GET", "POST"])
def dev_checkout(request, ref: str):
    """The dev provider's TEST MODE checkout page: Pay, Decline or Cancel, nothing charged."""
    _dev_only()
    subscription = subscription_get_for_checkout(user=request.user, checkout_ref=ref)
    if subscription is None:
        raise Http404("No such checkout.")
    if request.method == "GET":
        return render(request, "verification/dev_checkout.html", {"subscription": subscription})
    outcome = request.POST.get("outcome", "")
    try:
        subscription = services.subscription_dev_checkout_complete(
            subscription=subscription, outcome=outcome
        )
    except ValidationError as exc:
        _error_messages(request, exc)
        return redirect("accounts:verification")
    if outcome == "pay":
        messages.success(request, "Payment received (test mode). You are verified.")
    elif outcome == "decline":
        messages.error(request, "The payment was declined (test mode). You have not been charged.")
    else:
        messages.info(request, "Checkout cancelled. You have not been charged.")
    return redirect("accounts:verification")


@login_required
@require_POST
def dev_simulate(request):
    """TEST MODE: pretend the provider renewed or failed to charge the current period."""
    _dev_only()
    subscription = subscription_current(user=request.user)
    if subscription is None:
        raise Http404("No subscription.")
    try:
        services.subscription_dev_simulate(
            subscription=subscription, event=request.POST.get("event", "")
        )
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        messages.info(request, "Simulated (test mode).")
    return redirect("accounts:verification")


@csrf_exempt  # Stripe cannot send a CSRF token; the signature check below authenticates it.
@require_POST
def stripe_webhook(request):
    """Stripe's events. 400 for anything Stripe did not sign; a replayed event changes nothing."""
    try:
        event = stripe_event_verify(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature")
        )
        processed = stripe_event_handle(event=event)
    except WebhookRejected as exc:
        logger.warning("Rejected Stripe webhook: %s", exc)
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    return JsonResponse({"received": True, "duplicate": not processed})
