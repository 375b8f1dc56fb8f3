"""Top-level URLs: the web UI, the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from accounts.media_views import profile_media

from .views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("media/<str:folder>/<str:name>", profile_media, name="profile_media"),
    path("", include("api.urls")),
    path("", include("feeds.urls")),
]
