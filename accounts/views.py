"""Sign-up, log-in, log-out and settings pages."""

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from access.ratelimits import request_rate_limit

from .forms import ProfileForm, SignupForm, add_service_errors
from .models import Tier
from .selectors import effective_tier
from .services import user_create, user_update_profile
from .tasks import email_confirmation_send_task

logger = logging.getLogger(__name__)


def _email_confirmation_queue(user_id: int) -> None:
    """Queue the confirmation email; a broker outage must not fail the sign-up (the account
    exists and is logged in), so it is logged and the email can be sent again later."""
    try:
        email_confirmation_send_task.delay(user_id)
    except Exception:  # kombu OperationalError, redis errors, timeouts: all mean "not queued"
        logger.exception("could not queue the confirmation email for user %s", user_id)


@require_http_methods(["GET", "POST"])
@request_rate_limit("signup")
def signup(request):
    """Create an account, log it in and go home; the service's refusals show on the form."""
    if request.user.is_authenticated:
        return redirect("feeds:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as exc:
            # Errors without a field name come from the password validators: the username
            # rules already ran on the form.
            add_service_errors(form, exc, field="password1")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            user_id = user.pk
            transaction.on_commit(lambda: _email_confirmation_queue(user_id))
            messages.success(request, f"Welcome, @{user.username}! Say hello with a first post.")
            messages.info(request, f"We sent a link to {user.email} to confirm your email.")
            return redirect("feeds:home")
    status = 400 if form.errors else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@method_decorator(request_rate_limit("login", peek=["login_failures"]), name="dispatch")
class LoginView(auth_views.LoginView):
    """Log in with a username and password."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Log out (POST only, as Django requires)."""


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    """The settings "Password" tab: change the password, staying logged in."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change")
    success_message = "Your password was changed."


@login_required
@require_http_methods(["GET", "POST"])
def settings_profile(request):
    """The settings "Profile" tab: display name and bio."""
    user = request.user
    form = ProfileForm(
        request.POST or None, initial={"display_name": user.display_name, "bio": user.bio}
    )
    if request.method == "POST" and form.is_valid():
        try:
            user_update_profile(user=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Your profile was saved.")
            return redirect("accounts:settings")
    status = 400 if form.errors else 200
    context = {
        "form": form,
        "tier": effective_tier(user),
        "verified_tier": Tier.objects.filter(slug=Tier.VERIFIED).first(),
    }
    return render(request, "accounts/settings.html", context, status=status)
