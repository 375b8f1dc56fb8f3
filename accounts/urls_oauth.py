"""OAuth's consent page, at the address Mastodon clients open: ``/oauth/authorize``."""

from django.urls import path

from .oauth import views

urlpatterns = [
    path("authorize", views.authorize, name="oauth_authorize"),
    path("authorize/", views.authorize),  # some clients add the slash
]
