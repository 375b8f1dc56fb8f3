"""Top-level URLs: the web UI, the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from accounts import urls as accounts_urls

from .views import healthz

# The "accounts" namespace: accounts' pages and, under settings/verification/, the paid
# verification pages of verification/ (names unchanged: accounts:verification, …).
accounts_pages = [
    *accounts_urls.urlpatterns,
    path("settings/verification/", include("verification.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include((accounts_pages, accounts_urls.app_name))),
    path("", include("api.urls")),
    path("", include("feeds.urls")),
]
