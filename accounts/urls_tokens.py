"""The settings page's "Developer" tab: personal access tokens for the API."""

from django.urls import path

from . import token_views

urlpatterns = [
    path("", token_views.token_list, name="tokens"),
    path("<int:token_id>/revoke/", token_views.token_revoke_view, name="token_revoke"),
]
