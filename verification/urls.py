"""Paid verification pages: eligibility, checkout, the dev provider test checkout, webhooks.

Mounted at /accounts/settings/verification/ inside the "accounts" namespace by
microblog/urls.py (so the names stay ``accounts:verification`` & co.).
"""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.verification_status, name="verification"),
    path("checkout/", views.verification_checkout, name="verification_checkout"),
    path("return/", views.verification_return, name="verification_return"),
    path("cancel/", views.verification_cancel, name="verification_cancel"),
    path("billing/", views.verification_portal, name="verification_portal"),
    path("dev/checkout/<str:ref>/", views.dev_checkout, name="verification_dev_checkout"),
    path("dev/simulate/", views.dev_simulate, name="verification_dev_simulate"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
