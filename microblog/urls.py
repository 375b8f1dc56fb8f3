"""Top-level URLs: the web UI, the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from .views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("oauth/", include("accounts.urls_oauth")),  # /oauth/authorize; token/revoke: api
    path("", include("api.urls")),
    path("", include("feeds.urls")),
]
