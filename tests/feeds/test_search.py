"""Tests for search: people, hashtags and posts (full-text: FTS5 on SQLite, a GIN index on
PostgreSQL), the page and the API, the read gate on found posts, the "search" request-rate
group and the query-enumeration detector."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from access.access_log_drain import access_log_drain
from access.detectors import QUERY_ENUMERATION, detect_bulk_access
from access.models import AccessLogEntry, Flag
from accounts.models import Tier
from feeds import search, services
from tests.access.review_helpers import T0, log_entry
from tests.api.conftest import assert_schema, make_caller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus():
    """Posts about coffee and tea by two people, one of them later suspended."""
    barista = UserFactory(username="barista", display_name="Best Coffee")
    gone = UserFactory(username="gone")
    posts = {
        "latte": services.post_create(author=barista, text="A latte with Oat milk #Coffee"),
        "espresso": services.post_create(author=barista, text="Espresso, then more espresso"),
        "tea": services.post_create(author=barista, text="Green tea and milk? #teatime"),
        "gone": services.post_create(author=gone, text="Oat milk latte from a suspended one"),
    }
    services.repost_create(user=gone, post=posts["latte"])
    gone.is_active = False
    gone.save()
    return posts


def ids(posts) -> list[int]:
    return [post.pk for post in posts]


def test_posts_match_every_word_newest_first(corpus):
    """Ensures that a post is found when it contains every word of the query, whatever the
    case or punctuation, newest first, without reposts or suspended authors' posts."""
    assert ids(search.search_posts(q="milk", viewer=None)) == [
        corpus["tea"].pk,
        corpus["latte"].pk,
    ]
    assert ids(search.search_posts(q="OAT, milk!", viewer=None)) == [corpus["latte"].pk]
    assert ids(search.search_posts(q="espresso", viewer=None)) == [corpus["espresso"].pk]
    assert search.search_posts(q="nothing-like-this", viewer=None) == []


@pytest.mark.parametrize("q", ['"', "AND OR NOT", "milk*", "NEAR(a b)", "col:milk", "''", "\\"])
def test_fts_syntax_in_queries_is_taken_as_words(corpus, q):
    """Ensures that FTS5 (or tsquery) syntax typed into the box never errors: it is words."""
    search.search_posts(q=q, viewer=None)  # no exception is the rule


def test_deleted_posts_leave_the_index(corpus):
    """Ensures that a deleted post is no longer found."""
    services.post_delete(post=corpus["espresso"], actor=corpus["espresso"].author)
    assert search.search_posts(q="espresso", viewer=None) == []


def test_people_and_hashtags(corpus):
    """Ensures that people match on the start of the username or inside the display name
    (active accounts only) and hashtags on the start of their name."""
    assert [u.username for u in search.search_accounts(q="@bar", limit=5)] == ["barista"]
    assert [u.username for u in search.search_accounts(q="coffee", limit=5)] == ["barista"]
    assert search.search_accounts(q="gone", limit=5) == []
    assert [t.name for t in search.search_tags(q="#Tea", limit=5)] == ["teatime"]


def test_postgres_uses_the_gin_index(require_postgres, corpus):
    """Ensures that on PostgreSQL the post search is served by the GIN expression index."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        queryset = search._matching(search.Post.objects.all(), ["milk"])
        plan = queryset.explain()
        cursor.execute("SET enable_seqscan = on")
    assert "post_text_search" in plan


def test_search_page_shows_people_tags_and_metered_posts(client, corpus):
    """Ensures that the search page lists people, hashtags and posts, the posts being cut at
    the read budget, and an over-long query is a 400."""
    content = client.get(reverse("feeds:search"), {"q": "coffee"}).content.decode()
    assert "@barista" in content and "#coffee" in content and "A latte with" in content
    Tier.objects.filter(slug="anonymous").update(daily_read_budget=1)
    cut = client.get(reverse("feeds:search"), {"q": "milk"}, REMOTE_ADDR="198.51.100.3")
    assert "Green tea" in cut.content.decode() and "A latte" not in cut.content.decode()
    assert client.get(reverse("feeds:search"), {"q": "x" * 201}).status_code == 400
    empty = client.get(reverse("feeds:search"))
    assert empty.status_code == 200 and 'id="people-heading"' not in empty.content.decode()


def test_api_v2_search(corpus):
    """Ensures that GET /api/v2/search answers Mastodon's Search, filters by type, logs the
    query and refuses a missing query or a too-deep offset with 400."""
    caller = make_caller(username="searcher")
    response = caller.client.get("/api/v2/search", {"q": "milk"})
    assert response.status_code == 200
    assert_schema(response, "search_v2")
    assert [s["id"] for s in response.json()["statuses"]] == [
        str(corpus["tea"].pk),
        str(corpus["latte"].pk),
    ]
    only = caller.client.get("/api/v2/search", {"q": "bar", "type": "accounts"}).json()
    assert [a["acct"] for a in only["accounts"]] == ["barista"] and only["statuses"] == []
    tags = caller.client.get("/api/v2/search", {"q": "#coff", "type": "hashtags"}).json()
    assert tags["hashtags"][0]["name"] == "coffee"
    access_log_drain(max_seconds=0)  # with the Redis ledger, its stream into the database
    assert AccessLogEntry.objects.filter(route_name="api:search_v2").first().paging["q"]
    assert caller.client.get("/api/v2/search").status_code == 400
    assert caller.client.get("/api/v2/search", {"q": "a", "offset": 1000}).status_code == 400
    assert caller.client.get("/api/v2/search", {"q": "a", "type": "x"}).status_code == 400


def test_api_accounts_search(corpus):
    """Ensures that GET /api/v1/accounts/search finds accounts, and ``following`` keeps only
    those the caller follows."""
    caller = make_caller(username="searcher")
    response = caller.client.get("/api/v1/accounts/search", {"q": "barista"})
    assert_schema(response, "accounts_search")
    assert [a["acct"] for a in response.json()] == ["barista"]
    followed = caller.client.get("/api/v1/accounts/search", {"q": "b", "following": "true"})
    assert followed.json() == []


def test_search_has_its_own_request_rate_group(settings, corpus):
    """Ensures that searches count against the "search" group: past its limit the API
    answers 429 with policy "search" while other endpoints still answer."""
    settings.REQUEST_RATE_LIMITS = {
        **settings.REQUEST_RATE_LIMITS,
        "search": [("3/5m", "principal")],
    }
    caller = make_caller(username="searcher")
    for _ in range(3):
        assert caller.client.get("/api/v2/search", {"q": "milk"}).status_code == 200
    refused = caller.client.get("/api/v2/search", {"q": "milk"})
    assert refused.status_code == 429 and refused.json()["policy"] == "search"
    assert caller.client.get("/api/v1/timelines/public").status_code == 200


def test_query_enumeration_is_flagged_with_evidence():
    """Ensures that many distinct search queries from one reader raise a flag whose evidence
    is the searches' access-log records and whose figures name sample queries, while a person
    repeating a few searches raises none."""
    enumerator, person = UserFactory(), UserFactory()
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        for i in range(35):
            log_entry(
                at=T0 + timedelta(seconds=10 * i),
                user=enumerator,
                route_name="api:search_v2",
                path="/api/v2/search",
                paging={"q": f"aa{i:02d}"},
            )
        for i in range(12):
            log_entry(
                at=T0 + timedelta(seconds=30 * i),
                user=person,
                ip="192.0.2.99",
                route_name="feeds:search",
                path="/search/",
                paging={"q": ["coffee", "tea"][i % 2]},
            )
        detect_bulk_access()
    flag = Flag.objects.get(rule=QUERY_ENUMERATION)
    assert flag.principal == f"user:{enumerator.pk}"
    assert flag.evidence["figures"]["distinct_queries"] == 35
    assert flag.evidence["figures"]["sample_queries"][0] == "aa00"
    evidence = AccessLogEntry.objects.filter(pk__in=flag.evidence["entry_ids"])
    assert evidence.count() == len(flag.evidence["entry_ids"]) > 0
    assert all(entry.route_name == "api:search_v2" for entry in evidence)
    assert not Flag.objects.filter(principal=f"user:{person.pk}").exists()


def test_control_characters_in_queries_are_a_400(client, corpus):
    """Ensures that a query with NUL (which PostgreSQL refuses outright) is a clear 400 on
    the page and in the API, never a 500."""
    caller = make_caller(username="searcher")
    for path in ("/api/v2/search", "/api/v1/accounts/search"):
        response = caller.client.get(path, {"q": "milk\x00"})
        assert response.status_code == 400 and "control characters" in response.json()["error"]
    assert client.get(reverse("feeds:search"), {"q": "a\x00b"}).status_code == 400


def test_page_and_api_refuse_a_query_in_the_same_words(client, corpus):
    """Ensures that ``search.query_clean`` is the one check: it strips the query, and the page
    and the API refuse an over-long one with the same sentence (the API naming ``q``)."""
    assert search.query_clean("  coffee \n") == "coffee"
    long_query = "x" * (search.QUERY_MAX_LENGTH + 1)
    with pytest.raises(ValidationError) as refused:
        search.query_clean(long_query)
    sentence = " ".join(refused.value.messages)
    page = client.get(reverse("feeds:search"), {"q": long_query})
    assert page.status_code == 400 and sentence in page.content.decode()
    response = make_caller(username="searcher").client.get("/api/v2/search", {"q": long_query})
    assert response.status_code == 400 and response.json()["error"] == f"q: {sentence}"
