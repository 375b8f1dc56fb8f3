"""Top-level URLs: the web UI, the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from .views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("access.urls_content_usage")),  # robots.txt, tdmrep.json
    path("licensing/", include("licensing.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("api.urls")),
    path("", include("feeds.urls")),
]
