"""CSV formula injection (issue 12, item 5): the access-log export a reviewer opens in a
spreadsheet never carries a cell that the spreadsheet would run as a formula."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from access.access_log_drain import access_log_drain
from access.csv_export import FORMULA_PREFIXES, SafeCsvRows, csv_cell_safe
from access.models import AccessLogEntry
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

CALC = "=cmd|' /C calc'!A0"


def _reviewer():
    reviewer = UserFactory(is_staff=True)
    reviewer.user_permissions.add(
        Permission.objects.get(codename="review_scrape_logs", content_type__app_label="access")
    )
    return reviewer


def _export(client) -> list[list[str]]:
    ids = list(AccessLogEntry.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:access_accesslogentry_changelist"),
        {"action": "export_csv", "_selected_action": ids},
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_formula_user_agent_is_exported_as_text():
    """Ensures that a scraper whose user agent is ``=cmd|' /C calc'!A0`` appears in the export
    as the text ``'=cmd|…`` (a spreadsheet shows it, never runs it)."""
    PostFactory(text="hello")
    assert Client(HTTP_USER_AGENT=CALC).get("/public/").status_code == 200
    access_log_drain(max_seconds=0)  # with the Redis ledger, its stream into the database
    assert AccessLogEntry.objects.get().user_agent == CALC  # stored as sent
    client = Client()
    client.force_login(_reviewer())
    header, *rows = _export(client)
    agent = header.index("user_agent")
    assert [row[agent] for row in rows] == ["'" + CALC]
    for row in rows:
        assert not any(cell.startswith(FORMULA_PREFIXES) for cell in row), row


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_prefix_is_neutralised(prefix):
    """Ensures that each of OWASP's formula characters at the start of a cell is escaped, and
    that ordinary text, numbers and empty cells are written unchanged."""
    line = SafeCsvRows().line([f"{prefix}1+1", "Mozilla/5.0", 42, -3, None, ""])
    cells = next(csv.reader(io.StringIO(line)))
    assert cells == [f"'{prefix}1+1", "Mozilla/5.0", "42", "-3", "", ""]
    assert csv_cell_safe("a=b") == "a=b"
