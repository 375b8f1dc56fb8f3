"""The licensing demo: a licensee takes its quota while a scraper is refused."""

from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_simulate_licensee_shows_the_quota_taken_and_the_scraper_refused():
    """Ensures that simulate_licensee's licensee gets exactly its quota of allowed authors'
    posts with verifying receipts, then 429, while the logged-out crawler is cut off at the
    anonymous budget and told train-ai=n."""
    out = StringIO()
    call_command("simulate_licensee", stdout=out)
    text = out.getvalue()
    assert "110 posts in" in text and "then HTTP 429; authors delivered: simlic_allows;" in text
    assert "3/3 receipts verify" in text
    assert "Scraper (GPTBot user agent, logged out): 100 posts" in text
    assert "said train-ai=n" in text
