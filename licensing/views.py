"""The licensed lane's pages: plans and licences (with tokens, usage and receipts), the
TEST MODE checkout, the receipts' public key, and the reviewers' view of every plan."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access.selectors_review import can_review

from . import selectors, services
from .charts import daily_bars_svg
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
                "used": selectors.month_used(licence=licence),
                "tokens": selectors.licence_tokens(licence=licence),
                "receipts": selectors.receipts_recent(licence=licence, limit=10),
            }
        )
    usage = selectors.usage_by_day(licences=licences)
    context = {
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
        _licence, url = services.licence_checkout_start(
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
        licence = services.licence_dev_checkout_complete(licence=licence, outcome=outcome)
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
        licence = services.licence_stripe_return(
            licence=licence, session_id=request.GET.get("session_id", "")
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, f"Payment received. Your {licence.plan} licence is active.")
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


@login_required
@require_GET
def review(request):
    """Every data plan's licences and usage by day, for reviewers only."""
    if not can_review(request.user):
        raise PermissionDenied("Only reviewers may see the licensed lane's usage.")
    plans_usage = selectors.plans_usage()
    for row in plans_usage:
        row["chart"] = daily_bars_svg(row["by_day"], title=f"{row['plan']}: posts per UTC day")
    return render(request, "licensing/review.html", {"plans_usage": plans_usage})
