"""Timelines and account statuses: contents, Mastodon pagination and its bad input."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feeds.services import follow_create, post_create, repost_create
from tests.api.conftest import assert_schema
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

HOME = "/api/v1/timelines/home"
PUBLIC = "/api/v1/timelines/public"


def test_home_shows_own_and_followed(alice, bob):
    """Ensures that home has the caller's posts and those (and reblogs) of people they follow,
    and nothing from strangers."""
    stranger = UserFactory()
    follow_create(follower=alice.user, followee=bob.user)
    mine = post_create(author=alice.user, text="mine")
    theirs = post_create(author=bob.user, text="theirs")
    post_create(author=stranger, text="stranger")
    boost = repost_create(user=bob.user, post=PostFactory(author=stranger))
    response = alice.client.get(HOME)
    assert response.status_code == 200
    assert_schema(response, "timelines_home")
    assert [s["id"] for s in response.json()] == [str(boost.pk), str(theirs.pk), str(mine.pk)]
    assert response.json()[0]["reblog"]["account"]["id"] == str(stranger.pk)


def test_public_is_open_and_has_no_reblogs(anon, alice):
    """Ensures that the public timeline is readable without a token and leaves out reblogs."""
    post = post_create(author=alice.user, text="hello")
    repost_create(user=UserFactory(), post=post)
    response = anon.get(PUBLIC)
    assert response.status_code == 200
    assert_schema(response, "timelines_public")
    assert [s["id"] for s in response.json()] == [str(post.pk)]
    assert anon.get(PUBLIC, {"remote": "true"}).json() == []
    assert anon.get(PUBLIC, {"local": "true"}).status_code == 200
    assert anon.get(PUBLIC, {"local": "maybe"}).status_code == 400


def test_pagination_like_mastodon(alice):
    """Ensures that limit/max_id/since_id/min_id page by id and Link points at the next page
    (max_id = last id) and the previous one (min_id = first id)."""
    posts = [post_create(author=alice.user, text=f"p{i}") for i in range(7)]
    ids = [p.pk for p in posts]
    first = alice.client.get(HOME, {"limit": 3})
    assert [int(s["id"]) for s in first.json()] == ids[6:3:-1]
    link = first["Link"]
    assert f'<http://testserver/api/v1/timelines/home?limit=3&max_id={ids[4]}>; rel="next"' in link
    assert f'<http://testserver/api/v1/timelines/home?limit=3&min_id={ids[6]}>; rel="prev"' in link
    second = alice.client.get(HOME, {"limit": 3, "max_id": ids[4]})
    assert [int(s["id"]) for s in second.json()] == ids[3:0:-1]
    newer = alice.client.get(HOME, {"limit": 2, "min_id": ids[1]})
    assert [int(s["id"]) for s in newer.json()] == [ids[3], ids[2]]
    since = alice.client.get(HOME, {"limit": 2, "since_id": ids[1]})
    assert [int(s["id"]) for s in since.json()] == [ids[6], ids[5]]
    last = alice.client.get(HOME, {"limit": 3, "max_id": ids[1]})
    assert [int(s["id"]) for s in last.json()] == [ids[0]]
    assert 'rel="next"' not in last["Link"]  # a short page is the end
    empty = alice.client.get(HOME, {"max_id": ids[0]})
    assert empty.json() == [] and "Link" not in empty


def test_limit_defaults_and_clamps(alice):
    """Ensures that limit defaults to 20 and values above 40 are clamped to 40."""
    PostFactory.create_batch(45, author=alice.user)
    assert len(alice.client.get(HOME).json()) == 20
    assert len(alice.client.get(HOME, {"limit": 41}).json()) == 40
    assert len(alice.client.get(HOME, {"limit": 10**12}).json()) == 40


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"limit": "\u0661\u0662"},
        {"max_id": "abc"},
        {"max_id": "-1"},
        {"max_id": str(2**63)},
        {"since_id": "\u0661\u0662"},
        {"min_id": "1e3"},
        {"min_id": " 1"},
    ],
)
def test_bad_paging_parameters_are_400(alice, params):
    """Ensures that malformed limits and ids are 400 with a readable error, never 500."""
    for path in (HOME, PUBLIC, f"/api/v1/accounts/{alice.user.pk}/statuses"):
        response = alice.client.get(path, params)
        assert response.status_code == 400, (path, params)
        assert "error" in response.json()
    assert_schema(response, "accounts_statuses")


def test_account_statuses_filters(alice, bob):
    """Ensures that account statuses honour exclude_replies / exclude_reblogs / pinned."""
    root = post_create(author=bob.user, text="root")
    reply = post_create(author=alice.user, text="reply", reply_to=root)
    boost = repost_create(user=alice.user, post=root)
    plain = post_create(author=alice.user, text="plain")
    url = f"/api/v1/accounts/{alice.user.pk}/statuses"
    response = bob.client.get(url)
    assert_schema(response, "accounts_statuses")
    assert [s["id"] for s in response.json()] == [str(plain.pk), str(boost.pk), str(reply.pk)]
    assert [s["id"] for s in bob.client.get(url, {"exclude_replies": "true"}).json()] == [
        str(plain.pk),
        str(boost.pk),
    ]
    assert [s["id"] for s in bob.client.get(url, {"exclude_reblogs": "1"}).json()] == [
        str(plain.pk),
        str(reply.pk),
    ]
    assert bob.client.get(url, {"pinned": "true"}).json() == []
    assert bob.client.get("/api/v1/accounts/999999/statuses").status_code == 404
    assert bob.client.get("/api/v1/accounts/abc/statuses").status_code == 404


def test_timeline_costs_a_fixed_number_of_queries(alice, bob):
    """Ensures that a page of 40 statuses costs as many queries as a page of 2 (no N+1)."""
    follow_create(follower=alice.user, followee=bob.user)
    for i in range(30):
        post = post_create(author=bob.user if i % 2 else alice.user, text=f"t{i}")
        if i % 5 == 0:
            repost_create(user=bob.user, post=post)
        if i % 3 == 0:
            post_create(author=alice.user, text="re", reply_to=post)
    counts = []
    for limit in (2, 40):
        alice.client.get(HOME, {"limit": 1})  # warm the token's last-used stamp
        with CaptureQueriesContext(connection) as queries:
            response = alice.client.get(HOME, {"limit": limit})
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_account_statuses_look_the_account_up_only_for_an_empty_page(alice, bob):
    """Ensures that a page with a post costs no account look-up (a visible post is an active
    account's), and that without one the look-up still decides: a suspended account with
    posts, a missing account and a bad parameter on a missing account are 404, an active
    account with nothing (or only pins asked for) an empty list."""
    from accounts.moderation import user_suspend

    post_create(author=alice.user, text="hello")
    url = f"/api/v1/accounts/{alice.user.pk}/statuses"
    bob.client.get(url)  # the token's last-used stamp and the prepared statements
    with CaptureQueriesContext(connection) as queries:
        assert bob.client.get(url).status_code == 200
    page_queries = [
        q["sql"]
        for q in queries.captured_queries
        if '"access_' not in q["sql"] and "SAVEPOINT" not in q["sql"]  # the gate's own
    ]
    assert len(page_queries) == 2, page_queries  # the keyset page and the page statement

    quiet = UserFactory()
    assert bob.client.get(f"/api/v1/accounts/{quiet.pk}/statuses").json() == []
    assert bob.client.get(f"/api/v1/accounts/{quiet.pk}/statuses", {"pinned": "1"}).json() == []
    assert bob.client.get("/api/v1/accounts/999999/statuses", {"pinned": "1"}).status_code == 404
    assert bob.client.get("/api/v1/accounts/999999/statuses", {"limit": "x"}).status_code == 404
    assert bob.client.get(url, {"limit": "x"}).status_code == 400
    user_suspend(user=alice.user, actor=None, reason="test")
    assert bob.client.get(url).status_code == 404
