"""simulate_leak (issue 17): the proof runs end to end and leaves the database as it found it."""

from io import StringIO

import pytest
from django.core.management import call_command

from core.models import AdminActionLog
from feeds.models import Post


@pytest.mark.django_db
def test_simulate_leak_runs_and_rolls_back(settings):
    """Ensures that a small simulate_leak prints a line per kind of dump and the false
    accusations, and that nothing it created stays in the database."""
    out = StringIO()
    call_command("simulate_leak", "--trials", "1", "--readers", "60", stdout=out)
    text = out.getvalue()
    for kind in (
        "(a) harvester",
        "(a) farm",
        "(b) harvester",
        "(c) 50 most-read",
        "(d) logged-out",
    ):
        assert kind in text
    assert "false accusations: 0" in text
    assert not Post.objects.exists()
    assert not AdminActionLog.objects.filter(action="leak_trace").exists()
