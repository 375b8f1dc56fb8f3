"""A real Mastodon client library (Mastodon.py) against a live server, unchanged."""

import importlib
import threading

import pytest
from django.apps import apps
from django.db import connections
from mastodon import Mastodon, MastodonNotFoundError

from accounts.services import token_create
from tests.factories import UserFactory
from tests.media_helpers import image_bytes


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


def test_mastodon_py_mentions_notifications_tags_and_bookmarks(
    live_server, seeded_tiers, short_lived_db_connections, clients
):
    """Ensures that with Mastodon.py a mention with a hashtag reaches the friend's
    notifications, the hashtag timeline lists it, search finds it (and the hashtag and the
    writer), the friend bookmarks it and finds it in bookmarks, and the notifications marker
    and dismiss/clear work."""
    writer = UserFactory(username="writer_m")
    friend = UserFactory(username="friend_m")
    writer_api = _client(
        live_server, token_create(user=writer, name="t", scopes=["read", "write"])[1]
    )
    friend_api = _client(
        live_server, token_create(user=friend, name="t", scopes=["read", "write"])[1]
    )
    clients += [writer_api, friend_api]

    post = writer_api.status_post("Picnic, @friend_m? #Sunday")
    assert [m.acct for m in post.mentions] == ["friend_m"]
    assert [t.name for t in post.tags] == ["sunday"]
    friend_api.status_favourite(post)  # the writer is told of the like

    notes = friend_api.notifications()
    assert [(n.type, n.account.acct, n.status.id) for n in notes] == [
        ("mention", "writer_m", post.id)
    ]
    assert [n.type for n in writer_api.notifications(types=["favourite"])] == ["favourite"]
    assert [s.id for s in friend_api.timeline_hashtag("Sunday")] == [post.id]

    found = friend_api.search_v2("sunday picnic")
    assert [s.id for s in found.statuses] == [post.id]
    assert [t.name for t in friend_api.search_v2("#sun", result_type="hashtags").hashtags] == [
        "sunday"
    ]
    assert [a.acct for a in friend_api.account_search("writer")] == ["writer_m"]
    assert friend_api.status_bookmark(post).bookmarked is True
    assert [s.id for s in friend_api.bookmarks()] == [post.id]
    assert [s.id for s in friend_api.favourites()] == [post.id]

    friend_api.markers_set("notifications", notes[0].id)
    assert friend_api.markers_get("notifications").notifications.last_read_id == notes[0].id
    friend_api.notifications_dismiss(notes[0].id)
    assert friend_api.notifications() == []
    writer_api.notifications_clear()
    assert writer_api.notifications() == []
    friend_api.status_unbookmark(post)
    assert friend_api.bookmarks() == []


def test_mastodon_py_uploads_an_image_and_posts_with_it(
    live_server, seeded_tiers, short_lived_db_connections, clients, settings, tmp_path
):
    """Ensures that Mastodon.py uploads an image (media_post), describes it (media_update),
    posts with it (status_post media_ids) and that another account reads the status with its
    MediaAttachment, whose signed URL serves the image."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    writer = UserFactory(username="photo_m")
    reader = UserFactory(username="viewer_m")
    writer_api = _client(
        live_server, token_create(user=writer, name="t", scopes=["read", "write"])[1]
    )
    reader_api = _client(
        live_server, token_create(user=reader, name="t", scopes=["read", "write"])[1]
    )
    clients += [writer_api, reader_api]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes())
    media = writer_api.media_post(str(photo), mime_type="image/jpeg", description="a red square")
    assert media["type"] == "image" and media["description"] == "a red square"
    media = writer_api.media_update(media, description="a red square, described again")
    status = writer_api.status_post("a photo #pictures", media_ids=[media])
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    seen = reader_api.status(status["id"])
    attachment = seen["media_attachments"][0]
    assert attachment["description"] == "a red square, described again"
    assert attachment["meta"]["original"]["width"] == 800 and attachment["blurhash"]
    image = reader_api.session.get(attachment["preview_url"], timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
