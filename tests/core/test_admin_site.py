"""The admin site mounts the review pages itself, and moved models keep their old admin URLs."""

from django.contrib import admin

from microblog.admin_site import MicroblogAdminSite


def test_admin_site_is_the_project_site_with_review_urls():
    """Ensures that ``admin.site`` is the project's site (no monkeypatched ``get_urls``) and
    that it serves the review pages under ``review/``."""
    assert isinstance(admin.site, MicroblogAdminSite)
    assert "get_urls" not in vars(admin.site)  # nothing patched onto the instance
    routes = [str(pattern.pattern) for pattern in admin.site.get_urls()]
    assert "review/" in routes


def test_moved_models_old_admin_urls_redirect(admin_client):
    """Ensures that the admin pages of models that moved to core answer at their old address
    with a permanent redirect to the new one (query string kept)."""
    response = admin_client.get("/admin/accounts/adminactionlog/?action=flag_dismiss")
    assert response.status_code == 301
    assert response["Location"] == "/admin/core/adminactionlog/?action=flag_dismiss"
    response = admin_client.get("/admin/access/securityevent/")
    assert response.status_code == 301 and response["Location"] == "/admin/core/securityevent/"
    assert admin_client.get(response["Location"]).status_code == 200
    response = admin_client.get("/admin/accounts/subscription/")
    assert response["Location"] == "/admin/verification/subscription/"
    assert admin_client.get(response["Location"]).status_code == 200
