"""Sign-up, log-in, settings and API-token pages."""

from django.urls import include, path

from . import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("settings/", views.settings_profile, name="settings"),
    path("settings/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("settings/developer/", include("accounts.urls_tokens")),
    path("settings/verification/", include("accounts.urls_verification")),
]
