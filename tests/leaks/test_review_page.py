"""The leak-tracing reviewer page (issue 17): only staff with the review permission reach it;
an upload shows the answer and is recorded; a named reader becomes a flag the review acts on;
bad uploads get a clear 400."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from access.models import Flag
from core.models import AdminActionLog
from tests.factories import UserFactory

from .test_trace import dump_of, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
PAGE = "admin:leaks_review:trace"


def make_reviewer():
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="review_scrape_logs"))
    return user


def upload(client, text: str, fmt: str = "auto"):
    dump = SimpleUploadedFile("dump.txt", text.encode(), content_type="text/plain")
    return client.post(reverse(PAGE), {"dump": dump, "format": fmt})


@pytest.mark.parametrize("who", ["anonymous", "member", "staff without permission"])
def test_nobody_without_the_review_permission_sees_the_page(client, who):
    """Ensures that anonymous visitors and members are sent to the admin login and staff
    without the review permission get 403, on GET and POST alike."""
    if who == "member":
        client.force_login(UserFactory())
    elif who == "staff without permission":
        client.force_login(UserFactory(is_staff=True))
    for response in (client.get(reverse(PAGE)), upload(client, "some text")):
        if who == "staff without permission":
            assert response.status_code == 403
        else:
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AdminActionLog.objects.filter(action="leak_trace").exists()


def test_a_reviewer_traces_a_dump_and_opens_a_flag(client, world):  # noqa: F811
    """Ensures that a reviewer's upload shows the named harvester, is recorded with the
    reviewer as actor, and that "Open a flag" creates a leak flag and shows its review page."""
    reviewer = make_reviewer()
    client.force_login(reviewer)
    response = upload(client, dump_of(world["ids"][120:170]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Named 1 reader" in page and "harvester" in page
    logged = AdminActionLog.objects.get(action="leak_trace")
    assert logged.actor == reviewer
    sha256 = logged.details["sha256"]
    principal = f"user:{world['harvester'].pk}"
    opened = client.post(
        reverse("admin:leaks_review:flag_open"), {"sha256": sha256, "principal": principal}
    )
    flag = Flag.objects.get(rule="leak_trace", principal=principal)
    assert opened["Location"] == reverse("admin:access_review:flag", args=[flag.pk])
    assert flag.user_id == world["harvester"].pk and flag.evidence["dump_sha256"] == sha256
    assert client.get(opened["Location"]).status_code == 200
    assert AdminActionLog.objects.filter(action="leak_flag_open", actor=reviewer).exists()
    # Twice: the same open flag, not a second one.
    client.post(reverse("admin:leaks_review:flag_open"), {"sha256": sha256, "principal": principal})
    assert Flag.objects.filter(rule="leak_trace", principal=principal).count() == 1


def test_a_flag_can_only_be_opened_on_a_reader_the_trace_named(client, world):  # noqa: F811
    """Ensures that a forged principal (not named by the reviewer's own trace) opens nothing."""
    client.force_login(make_reviewer())
    response = client.post(
        reverse("admin:leaks_review:flag_open"),
        {"sha256": "0" * 64, "principal": f"user:{world['readers'][0].pk}"},
    )
    assert response.status_code == 302
    assert not Flag.objects.exists()


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [("", "auto", "empty"), ("id,author\n1,bob\n", "csv", "no text column")],
)
def test_bad_uploads_get_a_clear_400(client, text, fmt, message):
    """Ensures that an empty file or an unreadable dump is a 400 that says why."""
    client.force_login(make_reviewer())
    response = upload(client, text, fmt)
    assert response.status_code == 400
    assert message in response.content.decode()
