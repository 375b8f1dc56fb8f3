"""Top-level URLs: the web UI, the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from accounts import urls as accounts_urls
from accounts.media_views import profile_media
from core.ratelimits import login_rate_limit
from feeds.media_views import media_file

from .views import healthz

# Bad requests in Mastodon's JSON under /api/, with a sentence for input limits.
handler400 = "core.request_input.bad_request"

# The "accounts" namespace: accounts' pages and, under settings/verification/, the paid
# verification pages of verification/ (names unchanged: accounts:verification, …).
accounts_pages = [
    *accounts_urls.urlpatterns,
    path("settings/verification/", include("verification.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The admin's log-in form, under the same log-in limit as the site's (matched first).
    path("admin/login/", login_rate_limit(admin.site.login)),
    path("admin/", admin.site.urls),
    path("", include("access.urls_content_usage")),  # robots.txt, tdmrep.json
    path("licensing/", include("licensing.urls")),
    path("accounts/", include((accounts_pages, accounts_urls.app_name))),
    path("oauth/", include("accounts.urls_oauth")),  # /oauth/authorize; token/revoke: api
    # Images on posts, by signed expiring URLs (feeds.media_urls); profile images by name.
    path(
        "media/p/<int:media_id>/<int:expires>/<str:signature>/<str:filename>",
        media_file,
        name="media_file",
    ),
    path("media/<str:folder>/<str:name>", profile_media, name="profile_media"),
    path("", include("api.urls")),
    path("", include("feeds.urls")),
]
