"""Staff reads in the admin (issue 12, item 8): paging through /admin/feeds/post/ or opening a
post there passes the read gate (unlimited tier, still charged) and leaves an access-log
record, as every read does."""

import pytest
from django.test import Client

from access.access_log_drain import access_log_drain
from access.models import AccessLogEntry
from accounts.models import Tier
from feeds import services
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/feeds/post/"


def stored():
    """The access log, after draining the Redis ledger's stream (if any) into the database."""
    access_log_drain(max_seconds=0)
    return AccessLogEntry.objects.order_by("id")


@pytest.fixture
def staff_client():
    staff = UserFactory(username="staffer", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return staff, client


def test_staff_paging_through_posts_is_logged(staff_client):
    """Ensures that each changelist page a staff member opens is one access-log record on the
    unlimited tier, delivering and charging the posts on that page, and that a second page
    is a second record."""
    staff, client = staff_client
    posts = [PostFactory(text=f"post {n}") for n in range(120)]
    first = client.get(CHANGELIST)
    assert first.status_code == 200 and b"post 119" in first.content
    entry = stored().get()
    assert entry.principal == f"user:{staff.pk}" and entry.tier == Tier.UNLIMITED
    assert entry.route_name == "admin:feeds_post_changelist"
    assert entry.status == 200 and entry.delivered == 100 and entry.newly_charged == 100
    assert first["X-Read-Budget"] == "unlimited"
    second = client.get(CHANGELIST, {"p": "2"})
    assert second.status_code == 200 and b"post 0" in second.content
    assert stored().count() == 2
    assert stored().last().delivered == len(posts) - 100


def test_a_post_opened_in_the_admin_is_charged_with_the_posts_it_shows(staff_client):
    """Ensures that opening a reply in the admin charges it and its parent (whose text its
    form shows), in one access-log record."""
    _staff, client = staff_client
    parent = PostFactory(text="the parent")
    reply = services.post_create(author=UserFactory(), text="the reply", reply_to=parent)
    response = client.get(f"{CHANGELIST}{reply.pk}/change/")
    assert response.status_code == 200 and b"the reply" in response.content
    entry = stored().get()
    assert entry.route_name == "admin:feeds_post_change"
    assert entry.delivered == 2 and entry.newly_charged == 2


def test_a_restricted_staff_member_is_held_to_the_budget(staff_client):
    """Ensures that a staff member an admin restricted is cut off in the admin too: the page
    stops where the budget runs out, with a message, and the record says what was refused."""
    staff, client = staff_client
    restricted = Tier.objects.get(slug=Tier.RESTRICTED)
    staff.tier_override = restricted
    staff.save(update_fields=["tier_override"])
    for n in range(restricted.daily_read_budget + 10):
        PostFactory(text=f"post {n}")
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"read budget is spent" in response.content
    entry = stored().get()
    assert entry.delivered == restricted.daily_read_budget and entry.refused == 10
