"""URLs of the REST API (Mastodon-compatible v1/v2), its schema and its docs."""

app_name = "api"

urlpatterns: list = []
