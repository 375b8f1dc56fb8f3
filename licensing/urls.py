"""The licensed lane's pages (the API endpoint is in api/urls.py)."""

from django.urls import path

from . import views

app_name = "licensing"

urlpatterns = [
    path("", views.plans, name="plans"),
    path("buy/<slug:slug>/", views.buy, name="buy"),
    path("checkout/<str:ref>/", views.dev_checkout, name="dev_checkout"),
    path("checkout/<str:ref>/return/", views.stripe_return, name="stripe_return"),
    path("<int:licence_id>/tokens/", views.token_create, name="token_create"),
    path("<int:licence_id>/cancel/", views.cancel, name="cancel"),
    path("<int:licence_id>/dev/simulate/", views.dev_simulate, name="dev_simulate"),
    path("receipt-key.json", views.receipt_key, name="receipt_key"),
    path("review/", views.review, name="review"),
]
