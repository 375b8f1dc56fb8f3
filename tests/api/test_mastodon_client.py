"""A real Mastodon client library (Mastodon.py) against a live server, unchanged."""

import importlib
import threading

import pytest
from django.apps import apps
from django.db import connections
from mastodon import Mastodon, MastodonNotFoundError

from accounts.services import token_create
from tests.factories import UserFactory


@pytest.fixture
def clients():
    """The test's Mastodon.py clients; at the end their keep-alive connections are closed and
    the live server's request threads allowed to finish while the test database still exists
    (otherwise they close their database connections too late and log thread errors)."""
    made: list[Mastodon] = []
    yield made
    for client in made:
        client.session.close()
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout=2)


def _client(live_server, raw: str) -> Mastodon:
    # ratelimit_method="throw": a test must fail, not sleep, if it ever sees a 429.
    return Mastodon(
        access_token=raw,
        api_base_url=live_server.url,
        version_check_mode="created",
        ratelimit_method="throw",
    )


@pytest.fixture
def seeded_tiers(transactional_db):
    """The tiers a data migration seeds: transactional tests that ran before flushed them."""
    importlib.import_module("accounts.migrations.0002_seed_tiers").seed(apps, None)


@pytest.fixture
def short_lived_db_connections(monkeypatch):
    """Live-server threads close their database connection after each request.

    With persistent connections (CONN_MAX_AGE) a thread kept alive by the client's keep-alive
    would hold a session, and PostgreSQL would refuse to drop the test database afterwards.
    """
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def test_mastodon_py_end_to_end(live_server, seeded_tiers, short_lived_db_connections, clients):
    """Ensures that Mastodon.py can post, reply, read home/public/account timelines, follow,
    favourite, reblog and page with fetch_next/fetch_previous against our API."""
    alice = UserFactory(username="alice_m", display_name="Alice")
    bob = UserFactory(username="bob_m")
    alice_api = _client(
        live_server, token_create(user=alice, name="t", scopes=["read", "write"])[1]
    )
    bob_api = _client(live_server, token_create(user=bob, name="t", scopes=["read", "write"])[1])
    clients += [alice_api, bob_api]

    assert alice_api.retrieve_mastodon_version() == "4.3.0"
    assert alice_api.instance_v2()["configuration"]["statuses"]["max_characters"] == 500
    me = alice_api.account_verify_credentials()
    assert me.acct == "alice_m" and me.verified is False

    first = bob_api.status_post("Hello from bob", idempotency_key="same")
    assert bob_api.status_post("Hello from bob", idempotency_key="same").id == first.id
    reply = alice_api.status_post("Hi bob!", in_reply_to_id=first)
    assert reply.in_reply_to_id == first.id

    relationship = alice_api.account_follow(bob.pk)
    assert relationship.following is True
    assert alice_api.account_relationships([bob.pk])[0].following is True

    favourited = alice_api.status_favourite(first)
    assert favourited.favourited is True and favourited.favourites_count == 1
    boosted = alice_api.status_reblog(first)
    assert boosted.reblog.id == first.id and boosted.reblog.reblogged is True
    assert [a.acct for a in bob_api.status_favourited_by(first)] == ["alice_m"]
    assert [a.acct for a in bob_api.status_reblogged_by(first)] == ["alice_m"]
    context = bob_api.status_context(first)
    assert [s.id for s in context.descendants] == [reply.id]
    assert alice_api.status(first.id).content == "<p>Hello from bob</p>"

    home = alice_api.timeline_home()
    assert [s.id for s in home] == [boosted.id, reply.id, first.id]
    assert reply.id in [s.id for s in alice_api.timeline_public()]
    assert [s.id for s in bob_api.account_statuses(alice.pk)] == [boosted.id, reply.id]
    assert [a.acct for a in bob_api.account_followers(bob.pk)] == ["alice_m"]
    assert [a.acct for a in alice_api.account_following(alice.pk)] == ["bob_m"]
    assert int(alice_api.account_lookup("bob_m").id) == bob.pk

    for i in range(5):
        bob_api.status_post(f"page me {i}")
    page = alice_api.timeline_public(limit=2)
    assert len(page) == 2
    older = alice_api.fetch_next(page)
    assert len(older) == 2 and int(older[0].id) < int(page[-1].id)
    newer = alice_api.fetch_previous(older)
    assert [s.id for s in newer] == [s.id for s in page]
    everything = alice_api.fetch_remaining(alice_api.timeline_public(limit=3))
    assert len(everything) == 7

    alice_api.status_unfavourite(first)
    alice_api.status_unreblog(first)
    alice_api.account_unfollow(bob.pk)
    assert alice_api.status_delete(reply).text == "Hi bob!"
    with pytest.raises(MastodonNotFoundError):
        alice_api.status(reply.id)
    with pytest.raises(MastodonNotFoundError):  # another's post: 404, as on Mastodon
        alice_api.status_delete(first)
