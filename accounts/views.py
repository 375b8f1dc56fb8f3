"""Sign-up, log-in, log-out and settings pages."""

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render


def signup(request):
    return render(request, "accounts/signup.html")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"


@login_required
def settings_profile(request):
    _ = login, redirect
    return render(request, "accounts/settings.html")
