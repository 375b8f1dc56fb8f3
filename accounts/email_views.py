"""The email confirmation link and its "send it again" button (on the verification page,
which needs a confirmed address). Thin: each view calls one service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from . import services


@require_http_methods(["GET", "POST"])
def email_confirm(request, token: str):
    """A confirmation link. GET only shows a button (mail scanners that open links must not
    use up the one-time token); POST confirms."""
    if request.method == "GET":
        try:
            confirmation = services.email_confirmation_check(raw_token=token)
        except ValidationError as exc:
            return render(
                request,
                "accounts/verification/email_confirm.html",
                {"error": exc.messages[0]},
                status=400,
            )
        return render(
            request, "accounts/verification/email_confirm.html", {"email": confirmation.email}
        )
    try:
        user = services.email_confirm(raw_token=token)
    except ValidationError as exc:
        return render(
            request,
            "accounts/verification/email_confirm.html",
            {"error": exc.messages[0]},
            status=400,
        )
    messages.success(request, f"Thank you: {user.email} is confirmed.")
    if request.user.is_authenticated:
        return redirect("accounts:verification")
    return redirect("accounts:login")


@login_required
@require_POST
@ratelimit(key="user", rate="5/h", method="POST", block=False)
def email_confirmation_resend(request):
    """Send a fresh confirmation link (at most 5 an hour, so nobody can mail-bomb an inbox)."""
    if getattr(request, "limited", False):
        messages.error(request, "Too many links sent in the last hour. Please try again later.")
    else:
        services.email_confirmation_send(user=request.user, request=request)
        messages.success(request, f"We sent a confirmation link to {request.user.email}.")
    return redirect("accounts:verification")
