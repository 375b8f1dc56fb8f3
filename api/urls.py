"""URLs of the REST API (Mastodon-compatible v1/v2), its schema and its docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import (
    accounts,
    instance,
    licensed,
    rate_limits,
    statuses,
    timelines,
    update_credentials,
)
from .views.errors import api_not_found

app_name = "api"

V1 = "api/v1/"

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema",
            http_method_names=["get", "head"],  # OPTIONS had no template
        ),
        name="docs",
    ),
    # Instance and apps
    path(f"{V1}instance", instance.InstanceV1View.as_view(), name="instance_v1"),
    path("api/v2/instance", instance.InstanceV2View.as_view(), name="instance_v2"),
    # Mastodon.py asks for these with a trailing slash; same views, left out of the schema.
    path(f"{V1}instance/", instance.InstanceV1View.as_view(schema=None)),
    path("api/v2/instance/", instance.InstanceV2View.as_view(schema=None)),
    path(f"{V1}apps", instance.AppCreateView.as_view(), name="apps"),
    path(f"{V1}apps/verify_credentials", instance.AppVerifyView.as_view(), name="apps_verify"),
    # Accounts (fixed paths before :id)
    path(
        f"{V1}accounts/verify_credentials",
        accounts.VerifyCredentialsView.as_view(),
        name="verify_credentials",
    ),
    path(
        f"{V1}accounts/update_credentials",
        update_credentials.UpdateCredentialsView.as_view(),
        name="update_credentials",
    ),
    path(f"{V1}accounts/lookup", accounts.AccountLookupView.as_view(), name="account_lookup"),
    path(
        f"{V1}accounts/relationships",
        accounts.RelationshipsView.as_view(),
        name="relationships",
    ),
    path(f"{V1}accounts/<str:account_id>", accounts.AccountView.as_view(), name="account"),
    path(
        f"{V1}accounts/<str:account_id>/statuses",
        accounts.AccountStatusesView.as_view(),
        name="account_statuses",
    ),
    path(
        f"{V1}accounts/<str:account_id>/followers",
        accounts.FollowersView.as_view(),
        name="account_followers",
    ),
    path(
        f"{V1}accounts/<str:account_id>/following",
        accounts.FollowingView.as_view(),
        name="account_following",
    ),
    path(
        f"{V1}accounts/<str:account_id>/follow",
        accounts.FollowView.as_view(),
        name="account_follow",
    ),
    path(
        f"{V1}accounts/<str:account_id>/unfollow",
        accounts.UnfollowView.as_view(),
        name="account_unfollow",
    ),
    # Statuses
    path(f"{V1}statuses", statuses.StatusCreateView.as_view(), name="statuses"),
    path(f"{V1}statuses/<str:status_id>", statuses.StatusView.as_view(), name="status"),
    path(
        f"{V1}statuses/<str:status_id>/context",
        statuses.StatusContextView.as_view(),
        name="status_context",
    ),
    path(
        f"{V1}statuses/<str:status_id>/favourite",
        statuses.FavouriteView.as_view(),
        name="status_favourite",
    ),
    path(
        f"{V1}statuses/<str:status_id>/unfavourite",
        statuses.UnfavouriteView.as_view(),
        name="status_unfavourite",
    ),
    path(
        f"{V1}statuses/<str:status_id>/reblog",
        statuses.ReblogView.as_view(),
        name="status_reblog",
    ),
    path(
        f"{V1}statuses/<str:status_id>/unreblog",
        statuses.UnreblogView.as_view(),
        name="status_unreblog",
    ),
    path(
        f"{V1}statuses/<str:status_id>/favourited_by",
        statuses.FavouritedByView.as_view(),
        name="status_favourited_by",
    ),
    path(
        f"{V1}statuses/<str:status_id>/reblogged_by",
        statuses.RebloggedByView.as_view(),
        name="status_reblogged_by",
    ),
    # Timelines
    path(f"{V1}timelines/home", timelines.HomeTimelineView.as_view(), name="timeline_home"),
    path(f"{V1}timelines/public", timelines.PublicTimelineView.as_view(), name="timeline_public"),
    # The licensed lane: data licensees' bulk endpoint (their monthly quota, not a budget)
    path(
        f"{V1}licensed/statuses", licensed.LicensedStatusesView.as_view(), name="licensed_statuses"
    ),
    # The caller's limits (read budget and request rates): free of read-budget charge
    path(f"{V1}rate_limits", rate_limits.RateLimitsView.as_view(), name="rate_limits"),
    # Anything else under /api/ is Mastodon's JSON 404, not the web UI's HTML page.
    re_path(r"^api/(?!schema/|docs/)", api_not_found),
]
