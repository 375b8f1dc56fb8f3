"""URLs of the REST API (Mastodon-compatible v1/v2), its schema and its docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import (
    accounts,
    bookmarks,
    instance,
    licensed,
    media,
    notifications,
    oauth,
    rate_limits,
    search,
    startup,
    statuses,
    timelines,
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
    # Apps and OAuth 2 (the consent page /oauth/authorize is a web page: accounts.oauth)
    path(f"{V1}apps", oauth.AppCreateView.as_view(), name="apps"),
    path(f"{V1}apps/verify_credentials", oauth.AppVerifyView.as_view(), name="apps_verify"),
    path("oauth/token", oauth.TokenView.as_view(), name="oauth_token"),
    path("oauth/revoke", oauth.RevokeView.as_view(), name="oauth_revoke"),
    path(
        ".well-known/oauth-authorization-server",
        oauth.AuthorizationServerMetadataView.as_view(),
        name="oauth_metadata",
    ),
    # Accounts (fixed paths before :id)
    path(
        f"{V1}accounts/verify_credentials",
        accounts.VerifyCredentialsView.as_view(),
        name="verify_credentials",
    ),
    path(
        f"{V1}accounts/update_credentials",
        accounts.UpdateCredentialsView.as_view(),
        name="update_credentials",
    ),
    path(f"{V1}accounts/search", search.AccountsSearchView.as_view(), name="accounts_search"),
    path("api/v2/search", search.SearchView.as_view(), name="search_v2"),
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
    # Media: uploads for a later status (the files themselves: feeds.media_views, signed)
    path("api/v2/media", media.MediaCreateV2View.as_view(), name="media_create_v2"),
    path(f"{V1}media", media.MediaCreateV1View.as_view(), name="media_create_v1"),
    path(f"{V1}media/<str:media_id>", media.MediaView.as_view(), name="media"),
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
    path(
        f"{V1}statuses/<str:status_id>/bookmark",
        bookmarks.BookmarkView.as_view(),
        name="status_bookmark",
    ),
    path(
        f"{V1}statuses/<str:status_id>/unbookmark",
        bookmarks.UnbookmarkView.as_view(),
        name="status_unbookmark",
    ),
    path(f"{V1}bookmarks", bookmarks.BookmarksView.as_view(), name="bookmarks"),
    path(f"{V1}favourites", bookmarks.FavouritesView.as_view(), name="favourites"),
    # Timelines
    path(
        f"{V1}timelines/tag/<str:hashtag>",
        timelines.TagTimelineView.as_view(),
        name="timeline_tag",
    ),
    path(f"{V1}timelines/home", timelines.HomeTimelineView.as_view(), name="timeline_home"),
    path(f"{V1}timelines/public", timelines.PublicTimelineView.as_view(), name="timeline_public"),
    # Notifications and read positions (fixed paths before :id)
    path(f"{V1}notifications", notifications.NotificationsView.as_view(), name="notifications"),
    path(
        f"{V1}notifications/clear",
        notifications.NotificationsClearView.as_view(),
        name="notifications_clear",
    ),
    path(
        f"{V1}notifications/unread_count",
        notifications.UnreadCountView.as_view(),
        name="notifications_unread_count",
    ),
    path(
        f"{V1}notifications/<str:notification_id>",
        notifications.NotificationView.as_view(),
        name="notification",
    ),
    path(
        f"{V1}notifications/<str:notification_id>/dismiss",
        notifications.NotificationDismissView.as_view(),
        name="notification_dismiss",
    ),
    path(f"{V1}markers", notifications.MarkersView.as_view(), name="markers"),
    # The licensed lane: data licensees' bulk endpoint (their monthly quota, not a budget)
    path(
        f"{V1}licensed/statuses", licensed.LicensedStatusesView.as_view(), name="licensed_statuses"
    ),
    # The caller's limits (read budget and request rates): free of read-budget charge
    path(f"{V1}rate_limits", rate_limits.RateLimitsView.as_view(), name="rate_limits"),
    # What apps call when they start: empty lists where a feature does not exist here
    path(f"{V1}preferences", startup.PreferencesView.as_view(), name="preferences"),
    path(f"{V1}filters", startup.FiltersV1View.as_view(), name="filters_v1"),
    path("api/v2/filters", startup.FiltersV2View.as_view(), name="filters_v2"),
    path(f"{V1}lists", startup.ListsView.as_view(), name="lists"),
    path(f"{V1}custom_emojis", startup.CustomEmojisView.as_view(), name="custom_emojis"),
    path(f"{V1}announcements", startup.AnnouncementsView.as_view(), name="announcements"),
    path(f"{V1}follow_requests", startup.FollowRequestsView.as_view(), name="follow_requests"),
    path(f"{V1}followed_tags", startup.FollowedTagsView.as_view(), name="followed_tags"),
    path(f"{V1}trends", startup.TrendsTagsView.as_view(schema=None)),  # the old name of tags
    path(f"{V1}trends/tags", startup.TrendsTagsView.as_view(), name="trends_tags"),
    path(f"{V1}trends/statuses", startup.TrendsStatusesView.as_view(), name="trends_statuses"),
    path(f"{V1}trends/links", startup.TrendsLinksView.as_view(), name="trends_links"),
    path(".well-known/nodeinfo", startup.NodeInfoWellKnownView.as_view(), name="nodeinfo_links"),
    path("nodeinfo/2.0", startup.NodeInfoView.as_view(), name="nodeinfo"),
    path(f"{V1}streaming/health", startup.streaming_health, name="streaming_health"),
    re_path(r"^api/v1/streaming(/.*)?$", startup.streaming_refused, name="streaming"),
    # Anything else under /api/ is Mastodon's JSON 404, not the web UI's HTML page.
    re_path(r"^api/(?!schema/|docs/)", api_not_found),
]
