"""Paid verification pages: eligibility, checkout, the dev provider test checkout, webhooks."""

urlpatterns: list = []
