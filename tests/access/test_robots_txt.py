"""robots.txt and the TDMRep files, and the one crawler list they share with the detector."""

from datetime import UTC, datetime

import pytest

from access import detectors
from access.crawlers import crawler_agents_changed
from access.detectors import detect_bulk_access
from access.models import CrawlerAgent, Flag
from tests.access.review_helpers import log_entry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _robots(client) -> str:
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_robots_txt_keeps_ai_crawlers_out_and_states_the_signals(client):
    """Ensures that robots.txt names the seeded AI crawlers under Disallow: /, and gives every
    other agent Cloudflare's Content-Signal and the aipref Content-Usage rule (site default:
    no training)."""
    text = _robots(client)
    crawlers, _, everyone = text.partition("User-agent: *")
    for token in (
        "GPTBot",
        "ClaudeBot",
        "CCBot",
        "Google-Extended",
        "Applebot-Extended",
        "Bytespider",
        "Meta-ExternalAgent",
        "PerplexityBot",
    ):
        assert f"User-agent: {token}\n" in crawlers
    assert "Disallow: /\n" in crawlers
    assert "python-requests" not in text  # a library, not a crawler that reads robots.txt
    assert "Content-Signal: search=yes, ai-input=no, ai-train=no" in everyone
    assert "Content-Usage: train-ai=n" in everyone


def test_robots_txt_follows_the_site_default(client, settings):
    """Ensures that a site whose default allows training says so in robots.txt."""
    settings.AI_TRAINING_DEFAULT = "allow"
    text = _robots(client)
    assert "ai-train=yes" in text
    assert "Content-Usage: train-ai=y" in text


def test_one_list_feeds_robots_txt_and_the_detector(client):
    """Ensures that a crawler an admin adds is named in robots.txt and flagged by the
    scraper-user-agent detector, and one switched off is neither."""
    CrawlerAgent.objects.create(token="NewAIBot", operator="Example", purpose="ai-training")
    CrawlerAgent.objects.filter(token="GPTBot").update(active=False)
    crawler_agents_changed()  # what the admin's save does
    text = _robots(client)
    assert "User-agent: NewAIBot\n" in text
    assert "GPTBot" not in text

    log_entry(at=T0, ip="198.51.100.7", user_agent="Mozilla/5.0 (compatible; NewAIBot/0.1)")
    log_entry(at=T0, ip="198.51.100.8", user_agent="Mozilla/5.0 (compatible; GPTBot/1.2)")
    detect_bulk_access()
    flagged = set(
        Flag.objects.filter(rule=detectors.SCRAPER_USER_AGENT).values_list("principal", flat=True)
    )
    assert flagged == {"ip:198.51.100.7/32"}


def test_admin_edit_reaches_robots_txt_at_once(admin_client, django_capture_on_commit_callbacks):
    """Ensures that saving a crawler row in the admin clears the cached list."""
    assert "User-agent: GPTBot" in _robots(admin_client)
    agent = CrawlerAgent.objects.get(token="GPTBot")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/access/crawleragent/{agent.pk}/change/",
            {
                "token": "GPTBot",
                "operator": "OpenAI",
                "purpose": "ai-training",
                "in_robots_txt": "",
                "active": "on",
            },
        )
    assert response.status_code == 302
    assert "User-agent: GPTBot" not in _robots(admin_client)


def test_tdmrep_json_reserves_mining_while_any_author_disallows(client, settings):
    """Ensures that /.well-known/tdmrep.json reserves TDM rights site-wide (with the policy)
    while some author disallows training, and not once every author allows it."""
    UserFactory(ai_training_allowed=True)
    undecided = UserFactory()
    rules = client.get("/.well-known/tdmrep.json").json()
    assert rules[0]["location"] == "/*"
    assert rules[0]["tdm-reservation"] == 1
    assert rules[0]["tdm-policy"].endswith("/licensing/tdm-policy.json")
    undecided.ai_training_allowed = True
    undecided.save()
    assert client.get("/.well-known/tdmrep.json").json() == [
        {"location": "/*", "tdm-reservation": 0}
    ]
    policy = client.get("/licensing/tdm-policy.json").json()
    assert policy["@type"] == "Offer"
    assert policy["permission"][0]["action"] == "tdm:mine"
