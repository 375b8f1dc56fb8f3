"""The API's answer for paths it does not have: Mastodon's JSON 404."""

from django.http import JsonResponse


def api_not_found(request, *args, **kwargs):
    """Unknown API path (or an endpoint we do not implement yet)."""
    return JsonResponse({"error": "Record not found"}, status=404)
