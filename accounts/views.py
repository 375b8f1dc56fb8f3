"""Sign-up, log-in, log-out, password reset and settings pages (profile, email, password)."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from core.ratelimits import (
    RateLimitStatus,
    login_rate_limit,
    rate_limited_headers,
    rate_limited_message,
    ratelimit_check,
    request_rate_limit,
    reset_at_iso,
)

from .forms import (
    EmailChangeWithPasswordForm,
    PasswordResetRequestForm,
    ProfileForm,
    SignupForm,
    add_service_errors,
)
from .images import ImageRefused
from .models import Tier, User
from .oauth.views import opener_policy_allows_popups
from .profiles import profile_update
from .selectors import effective_tier, email_is_confirmed
from .services import (
    email_change_notice_send,
    password_change_record,
    password_reset_complete,
    user_create,
    user_email_change_with_password,
)
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
            login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
            user_id = user.pk
            transaction.on_commit(lambda: _email_confirmation_queue(user_id))
            messages.success(request, f"Welcome, @{user.username}! Say hello with a first post.")
            messages.info(request, f"We sent a link to {user.email} to confirm your email.")
            return redirect("feeds:home")
    status = 400 if form.errors else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@method_decorator(login_rate_limit, name="dispatch")
@method_decorator(opener_policy_allows_popups, name="dispatch")  # OAuth popups (oauth/views)
class LoginView(auth_views.LoginView):
    """Log in with a username and password."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Log out (POST only, as Django requires)."""


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    """The settings "Password" tab: change the password with the current one as proof. This
    session stays logged in; the account's other sessions are logged out."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change")
    success_message = (
        "Your password was changed. You are still logged in here; "
        "every other browser and device was logged out."
    )

    def post(self, request, *args, **kwargs):
        refused = ratelimit_check(request, "current_password_failures", count=False)
        if refused is not None:
            return _rate_limited(request, refused, flow="password")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)  # saves, then update_session_auth_hash
            password_change_record(user=form.user, request=self.request)
        return response

    def form_invalid(self, form):
        if form.has_error("old_password", "password_incorrect"):
            ratelimit_check(self.request, "current_password_failures")
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- Password reset ("Forgot your password?") ------------------------------------------------


def _reset_link_life() -> str:
    """How long a password-reset link works (PASSWORD_RESET_TIMEOUT), as people say it."""
    seconds = settings.PASSWORD_RESET_TIMEOUT
    for unit, size in (("day", 86400), ("hour", 3600)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    minutes = max(seconds // 60, 1)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


class _ResetLinkLifeMixin:
    """Gives the reset pages and emails ``reset_link_life``, read from settings each time."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "reset_link_life": _reset_link_life()}

    @property
    def extra_email_context(self) -> dict:
        return {"reset_link_life": _reset_link_life()}


def _rate_limited(request, status: RateLimitStatus, *, flow: str) -> HttpResponse:
    """The 429 page of the password and email pages: the request-rate sentence and headers
    every refusal has (core.ratelimits), and what to do next in this flow."""
    context = {
        "status": status,
        "message": rate_limited_message(status),
        "reset_at_iso": reset_at_iso(status),
        "flow": flow,
        "reset_link_life": _reset_link_life(),
    }
    response = render(request, "accounts/rate_limited.html", context, status=429)
    for name, value in rate_limited_headers(status).items():
        response[name] = value
    return response


class PasswordResetView(_ResetLinkLifeMixin, auth_views.PasswordResetView):
    """Ask for a reset link by email. The answer is the same whether or not the address has an
    account; limited per network and per mailbox asked for."""

    template_name = "accounts/password_reset_form.html"
    form_class = PasswordResetRequestForm
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request, *args, **kwargs):
        refused = ratelimit_check(request, "password_reset")
        if refused is not None:
            return _rate_limited(request, refused, flow="reset")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # Counted whether or not an account has the mailbox, so a 429 tells nothing either.
        refused = ratelimit_check(self.request, "password_reset_email")
        if refused is not None:
            return _rate_limited(self.request, refused, flow="reset")
        return super().form_valid(form)  # mails a link to each account behind the mailbox

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetDoneView(_ResetLinkLifeMixin, auth_views.PasswordResetDoneView):
    """ "Check your inbox", shown whether or not the address has an account."""

    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(_ResetLinkLifeMixin, auth_views.PasswordResetConfirmView):
    """The emailed link: choose a new password. The link works once and for
    PASSWORD_RESET_TIMEOUT; a reset logs out every session and revokes the API tokens."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)  # saves the new password
            revoked = password_reset_complete(user=form.user, request=self.request)
        message = (
            "Your password was reset: log in with the new one. "
            "Every browser and device was logged out"
        )
        if revoked:
            tokens = "your API token was" if revoked == 1 else f"your {revoked} API tokens were"
            message += f", and {tokens} revoked: create new ones under Settings → Developer"
        messages.success(self.request, message + ".")
        return response

    def render_to_response(self, context, **kwargs):
        # A link that does not work, or a refused new password, is the visitor's error: 400.
        form = context.get("form")
        if not context.get("validlink") or (form is not None and form.errors):
            kwargs.setdefault("status", 400)
        return super().render_to_response(context, **kwargs)


@login_required
@require_http_methods(["GET", "POST"])
def settings_profile(request):
    """The settings "Profile" tab: display name, bio, avatar and header."""
    user = request.user
    form = ProfileForm(
        request.POST or None,
        request.FILES or None,
        initial={"display_name": user.display_name, "bio": user.bio},
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(user=user, **form.cleaned_data)
        except ImageRefused as exc:
            form.add_error(getattr(exc, "field", None), exc.messages)
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


def _email_change_notice_deliver(user: User, old_email: str) -> None:
    """Tell the old address (after the commit). Sent in the request: a mail-server outage is
    logged and must not fail a change that is already made."""
    try:
        email_change_notice_send(user=user, old_email=old_email)
    except Exception:  # smtplib, socket and timeout errors: all mean "not sent"
        logger.exception("could not tell the old address of user %s about its change", user.pk)


@login_required
@require_http_methods(["GET", "POST"])
def settings_email(request):
    """The settings "Email" tab: move the account to a new address (current password needed),
    send that address a confirmation link and tell the old one."""
    user = request.user
    form = EmailChangeWithPasswordForm(request.POST or None)
    if request.method == "POST":
        refused = ratelimit_check(
            request, "current_password_failures", count=False
        ) or ratelimit_check(request, "email_change")
        if refused is not None:
            return _rate_limited(request, refused, flow="email")
        if form.is_valid():
            try:
                old_email = user_email_change_with_password(
                    user=user,
                    email=form.cleaned_data["email"],
                    current_password=form.cleaned_data["current_password"],
                    request=request,
                )
            except ValidationError as exc:
                if "current_password" in getattr(exc, "error_dict", {}):
                    ratelimit_check(request, "current_password_failures")
                add_service_errors(form, exc)
            else:
                user_id = user.pk
                transaction.on_commit(lambda: _email_confirmation_queue(user_id))
                transaction.on_commit(lambda: _email_change_notice_deliver(user, old_email))
                messages.success(
                    request,
                    f"Your email address is now {user.email}. We sent it a link: until you "
                    f"use it, your address counts as unconfirmed. We told {old_email} too.",
                )
                return redirect("accounts:email_change")
    status = 400 if form.errors else 200
    context = {"form": form, "email_confirmed": email_is_confirmed(user=user)}
    return render(request, "accounts/email_change.html", context, status=status)
