"""The settings page's "Apps" tab: OAuth apps the person has authorized."""

from django.urls import path

from .oauth import settings_views

urlpatterns = [
    path("", settings_views.apps_list, name="apps"),
    path("<int:application_id>/revoke/", settings_views.app_revoke, name="app_revoke"),
]
