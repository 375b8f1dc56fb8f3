"""Sign-up, log-in, password reset, settings and API-token pages."""

from django.urls import include, path

from . import ai_training_views, email_views, views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("settings/", views.settings_profile, name="settings"),
    path("settings/ai-training/", ai_training_views.settings_ai_training, name="ai_training"),
    path("settings/email/", views.settings_email, name="email_change"),
    path("settings/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("settings/developer/", include("accounts.urls_tokens")),
    path("settings/apps/", include("accounts.urls_apps")),
    # Shown on the verification page (verification/ mounts the rest of it, microblog/urls.py).
    path(
        "settings/verification/email/confirm/<str:token>/",
        email_views.email_confirm,
        name="email_confirm",
    ),
    path(
        "settings/verification/email/resend/",
        email_views.email_confirmation_resend,
        name="email_confirmation_resend",
    ),
]
