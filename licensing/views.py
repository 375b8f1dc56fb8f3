"""The licensed lane's pages: plans and licences (with tokens, usage and receipts), the
TEST MODE checkout, the receipts' public key, and the reviewers' view of every plan."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access.charts import daily_bars_svg
from access.views_review import review_view

from . import billing, selectors, services
from .models import DataPlan, Licence
from .receipts import key_id, public_key_b64


def _errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
@require_GET
def plans(request):
    """Data plans on sale, the account's licences, their tokens, usage by day and receipts."""
    licences = list(selectors.licences_of(user=request.user))
    rows = []
    for licence in licences:
        rows.append(
            {
                "licence": licence,
                "usable": licence.is_usable(),
                "ends_at": licence.access_ends_at() if licence.is_active else None,
                "used": selectors.month_used(licence=licence),
                "tokens": selectors.licence_tokens(licence=licence),
                "receipts": selectors.receipts_recent(licence=licence, limit=10),
            }
        )
    usage = selectors.usage_by_day(licences=licences)
    if request.GET.get("checkout") == "cancelled":
        messages.info(request, "Checkout cancelled. You have not been charged.")
    context = {
        "dev_events": billing.DEV_EVENTS if settings.PAYMENTS_PROVIDER == "dev" else {},
        "plans": selectors.plans_on_sale(),
        "rows": rows,
        "chart": daily_bars_svg(usage, title="Posts licensed per UTC day, last 31 days")
        if licences
        else None,
        "total_31_days": sum(day["posts"] for day in usage),
        "new_token": request.session.pop("licensing_new_token", None),
    }
    return render(request, "licensing/plans.html", context)


@login_required
@require_POST
def buy(request, slug: str):
    """Start the checkout for a data plan."""
    plan = get_object_or_404(DataPlan, slug=slug, is_active=True)
    try:
        _licence, url = billing.licence_checkout_start(
            user=request.user, plan=plan, request=request
        )
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("licensing:plans")
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def dev_checkout(request, ref: str):
    """The dev provider's TEST MODE checkout for a data plan: Pay or Cancel, nothing charged."""
    if settings.PAYMENTS_PROVIDER != "dev":
        raise Http404("The test-mode checkout is only available with PAYMENTS_PROVIDER=dev.")
    licence = selectors.licence_for_checkout(user=request.user, checkout_ref=ref)
    if licence is None:
        raise Http404("No such checkout.")
    if request.method == "GET":
        return render(request, "licensing/dev_checkout.html", {"licence": licence})
    outcome = request.POST.get("outcome", "")
    try:
        licence = billing.licence_dev_checkout_complete(licence=licence, outcome=outcome)
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("licensing:plans")
    if licence.is_active:
        messages.success(
            request, f"Payment received (test mode). Your {licence.plan} licence is active."
        )
    else:
        messages.info(request, "Checkout cancelled. You have not been charged.")
    return redirect("licensing:plans")


@login_required
@require_GET
def stripe_return(request, ref: str):
    """Back from Stripe Checkout: the licence is activated once Stripe confirms the payment."""
    licence = selectors.licence_for_checkout(user=request.user, checkout_ref=ref)
    if licence is None:
        raise Http404("No such checkout.")
    try:
        licence = billing.licence_stripe_return(
            licence=licence, session_id=request.GET.get("session_id", "")
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, f"Payment received. Your {licence.plan} licence is active.")
    return redirect("licensing:plans")


@login_required
@require_POST
def cancel(request, licence_id: int):
    """Stop renewing a licence: it works until its paid period ends."""
    licence = get_object_or_404(Licence, pk=licence_id, user=request.user)
    try:
        licence = billing.licence_cancel(licence=licence)
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("licensing:plans")
    until = licence.access_ends_at()
    when = f" It works until {until:%Y-%m-%d %H:%M} UTC." if until else ""
    messages.success(request, f"Renewal cancelled.{when}")
    return redirect("licensing:plans")


@login_required
@require_POST
def dev_simulate(request, licence_id: int):
    """TEST MODE: pretend the provider reported a renewal, a failed payment, the end of the
    subscription or the end of the period, so every lifecycle path works on ``make run``."""
    if settings.PAYMENTS_PROVIDER != "dev":
        raise Http404("Simulation is only available with PAYMENTS_PROVIDER=dev.")
    licence = get_object_or_404(Licence, pk=licence_id, user=request.user)
    event = request.POST.get("event", "")
    try:
        licence = billing.licence_dev_simulate(licence=licence, event=event)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.info(
            request,
            f"Simulated (test mode): {billing.DEV_EVENTS[event]}. "
            f"The licence is now: {licence.get_status_display()}.",
        )
    return redirect("licensing:plans")


@login_required
@require_POST
def token_create(request, licence_id: int):
    """Create a read-only API token bound to one of the account's licences."""
    licence = get_object_or_404(Licence, pk=licence_id, user=request.user)
    try:
        token, raw = services.licence_token_create(
            licence=licence, name=request.POST.get("name", "")
        )
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("licensing:plans")
    # Shown once, on the next page only (never stored in the clear).
    request.session["licensing_new_token"] = {"name": token.name, "raw": raw}
    return redirect("licensing:plans")


@require_GET
def receipt_key(request):
    """The public key that verifies receipts (Ed25519, base64url), published for anyone."""
    response = JsonResponse(
        {
            "alg": "Ed25519",
            "key_id": key_id(),
            "public_key": public_key_b64(),
            "encoding": "base64url",
        }
    )
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
@review_view
def review(request):
    """Every data plan's licences and usage by day, for reviewers only (the same check and
    admin frame as the bulk-access review pages)."""
    plans_usage = selectors.plans_usage()
    for row in plans_usage:
        row["chart"] = daily_bars_svg(row["by_day"], title=f"{row['plan']}: posts per UTC day")
    context = {**admin.site.each_context(request), "plans_usage": plans_usage}
    return render(request, "licensing/review.html", context)
