"""The operator's logged-out reading policy applies to the API as to the web pages."""

import pytest
from django.test import override_settings

from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

WALLED = {"public_timeline": "authenticated", "profiles": "authenticated", "posts": "authenticated"}


@override_settings(LOGGED_OUT_READING=WALLED)
def test_login_wall_means_401_for_logged_out_readers(anon, alice):
    """Ensures that behind a login wall logged-out API readers get 401 and token holders read."""
    post = PostFactory(author=alice.user)
    paths = [
        "/api/v1/timelines/public",
        f"/api/v1/accounts/{alice.user.pk}",
        f"/api/v1/accounts/{alice.user.pk}/statuses",
        f"/api/v1/accounts/{alice.user.pk}/followers",
        "/api/v1/accounts/lookup?acct=alice",
        f"/api/v1/statuses/{post.pk}",
        f"/api/v1/statuses/{post.pk}/context",
        f"/api/v1/statuses/{post.pk}/favourited_by",
    ]
    for path in paths:
        response = anon.get(path)
        assert response.status_code == 401, path
        assert response.json() == {"error": "This method requires an authenticated user"}
        assert alice.client.get(path).status_code == 200, path


@override_settings(LOGGED_OUT_READING={**WALLED, "public_timeline": "disabled"})
def test_disabled_public_timeline_is_403_except_for_staff(alice):
    """Ensures that a switched-off public timeline is 403 for everyone but staff."""
    response = alice.client.get("/api/v1/timelines/public")
    assert response.status_code == 403
    assert "not available" in response.json()["error"]
    staff = UserFactory(is_staff=True)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    assert client.get("/api/v1/timelines/public").status_code == 200
