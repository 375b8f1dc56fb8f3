"""Browser test (issue 17): a reviewer uploads a leaked dump on the leak-tracing page, sees the
harvester named, opens a flag from the trace and revokes the harvester's tokens from it."""

import pytest
from django.contrib.contenttypes.models import ContentType
from playwright.sync_api import expect

from accounts.models import ApiToken
from core.models import AdminActionLog
from tests.e2e.conftest import browser, page, screenshot  # noqa: F401
from tests.e2e.test_review_browser import _log_in_as
from tests.factories import UserFactory
from tests.leaks.test_trace import dump_of, world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_reviewer_traces_a_dump_and_revokes_the_harvesters_tokens(
    page,  # noqa: F811
    browser,  # noqa: F811
    live_server,
    screenshot,  # noqa: F811
    world,  # noqa: F811
    tmp_path,
):
    """Ensures that a reviewer can upload a dump, read who received it, open a flag on the
    named harvester and revoke its tokens, every step recorded in the admin action log."""
    ContentType.objects.clear_cache()
    # A superuser reviews (earlier transactional tests may have flushed the permission rows;
    # the permission itself is checked in tests/leaks/test_review_page.py).
    reviewer = UserFactory(username="reviewer", is_staff=True, is_superuser=True)
    dump = tmp_path / "leak.txt"
    dump.write_text(dump_of(world["ids"][120:170]))

    _log_in_as(page, live_server, reviewer)
    page.goto("/admin/review/leaks/")
    page.set_input_files("input[name=dump]", str(dump))
    page.get_by_role("button", name="Trace the dump").click()
    expect(page.locator("#leak-verdict")).to_contain_text("Named 1 reader")
    expect(page.locator("#leak-readers tr.named")).to_contain_text("harvester")
    screenshot(page, "leak-trace-result")

    page.get_by_role("button", name="Open a flag and act").click()
    expect(page.locator("body")).to_contain_text("leaked dump")
    page.select_option("select[name=action]", label="Revoke the account's tokens")
    page.fill("textarea[name=reason]", "Harvested the posts of a leaked dataset.")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("body")).to_contain_text("Harvested the posts of a leaked dataset.")
    screenshot(page, "leak-trace-flag-actioned")

    assert ApiToken.objects.get(pk=world["token"].pk).revoked_at is not None
    actions = set(AdminActionLog.objects.values_list("action", flat=True))
    assert {"leak_trace", "leak_flag_open", "flag_revoke_tokens"} <= actions
