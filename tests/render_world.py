"""One small world with every kind of post, for the render-cache tests (API and web)."""

from dataclasses import dataclass

from accounts.ai_training import user_ai_training_set
from accounts.moderation import user_suspend
from accounts.services import token_create
from feeds import services
from feeds.bookmarks import bookmark_create
from feeds.models import Post
from tests.factories import UserFactory


@dataclass
class World:
    viewer: object
    raw_token: str
    ann: object
    vera: object
    bob: object
    sam: object
    original: Post
    reply: Post
    orphan_reply: Post
    repost: Post
    own: Post
    verified_post: Post


def world_build() -> World:
    """A viewer following ann, vera (verified, allows AI training), bob and sam (suspended
    after posting), with an original carrying a mention and hashtags, a reply, a reply whose
    parent was deleted, a repost, the viewer's own post, and the viewer's likes, reposts and
    bookmarks on some of them; ann replies to the viewer and bob likes their post
    (notifications)."""
    viewer = UserFactory(username="viewer")
    _, raw = token_create(user=viewer, name="test", scopes=["read", "write"])
    ann = UserFactory(username="ann", bio="I write #things")
    vera = UserFactory(username="vera", is_verified=True)
    user_ai_training_set(user=vera, choice="allow")
    bob = UserFactory(username="bob")
    sam = UserFactory(username="sam")
    for followee in (ann, vera, bob, sam):
        services.follow_create(follower=viewer, followee=followee)
    original = services.post_create(author=ann, text="Hello @bob, see #Django and #cache")
    reply = services.post_create(author=bob, text="@ann thanks!", reply_to=original)
    doomed = services.post_create(author=ann, text="soon gone")
    orphan_reply = services.post_create(author=bob, text="replying to a goner", reply_to=doomed)
    services.post_delete(post=doomed, actor=ann)
    verified_post = services.post_create(author=vera, text="Verified words\n\nsecond paragraph")
    repost = services.repost_create(user=bob, post=verified_post)
    own = services.post_create(author=viewer, text="my own post <b>not bold</b>")
    services.post_create(author=ann, text="@viewer nice one", reply_to=own)
    services.like_create(user=bob, post=own)
    services.post_create(author=sam, text="soon suspended")
    services.like_create(user=viewer, post=original)
    services.repost_create(user=viewer, post=reply)
    bookmark_create(user=viewer, post=verified_post)
    bookmark_create(user=viewer, post=original)
    user_suspend(user=sam, actor=None, reason="spam")
    return World(
        viewer=viewer,
        raw_token=raw,
        ann=ann,
        vera=vera,
        bob=bob,
        sam=sam,
        original=Post.objects.get(pk=original.pk),
        reply=reply,
        orphan_reply=orphan_reply,
        repost=repost,
        own=own,
        verified_post=verified_post,
    )
