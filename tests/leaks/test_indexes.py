"""The leak tracer's derived data (issue 17): the text fingerprint index follows every post
create, edit and delete and finds the post under each transformation a dump applies; the
per-reader-day roll-up of provenance always equals the raw rows."""

import random
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Count, Sum
from django.test import RequestFactory
from django.utils import timezone

from access.gate import read_gate
from access.models import DeliveryProvenance
from access.selectors_provenance import reader_volumes
from access.services_provenance import provenance_purge
from feeds.models import Post
from feeds.services import post_create, post_delete
from leaks.dumps import DumpItem
from leaks.fingerprints import CHUNK, candidates_find, post_keys
from leaks.matching import Match, html_strip, text_normalize
from leaks.models import PostFingerprint, ReaderDayVolume
from leaks.rollup import reader_days_rebuild
from leaks.selectors import window_volumes
from leaks.services import items_match
from tests.factories import UserFactory

from .test_matching import POSTS

pytestmark = pytest.mark.django_db


def keys_of(post: Post) -> set[int]:
    return set(PostFingerprint.objects.filter(post=post).values_list("key", flat=True))


def test_fingerprint_follows_post_create_edit_and_delete():
    """Ensures that a post is fingerprinted when created, fingerprinted anew when its text is
    edited (the old keys gone), and that its keys go when it is deleted."""
    author = UserFactory()
    post = post_create(author=author, text="Fresh sourdough this morning, crumb looks perfect!")
    assert keys_of(post) == post_keys(text_normalize(post.text)) and len(keys_of(post)) > 3
    post.text = "Edited: the council votes on the cycle lanes tonight."
    post.save()
    assert keys_of(post) == post_keys(text_normalize(post.text))
    assert candidates_find([text_normalize("the council votes on the cycle lanes")])[0] == [
        [post.pk]
    ]
    assert candidates_find([text_normalize("fresh sourdough this morning")])[0] == [[]]
    post_delete(post=post, actor=author)
    assert not PostFingerprint.objects.filter(post_id=post.pk).exists()


def test_a_counter_save_leaves_the_fingerprint_alone(django_assert_num_queries):
    """Ensures that saving a post's counters only (update_fields without text) writes no
    fingerprint."""
    post = post_create(author=UserFactory(), text="A post whose counters change.")
    post.likes_count = 3
    with django_assert_num_queries(1):
        post.save(update_fields=["likes_count"])


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker):
    """The matcher's posts, among 300 filler posts of the same vocabulary: created once for
    the module (1-5 s each time) in a transaction rolled back at its end; each test's own
    changes are rolled back after it as usual."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _corpus_create()
        transaction.set_rollback(True)


def _corpus_create() -> dict[str, int]:
    author = UserFactory()
    chance = random.Random(4)  # noqa: S311 - test data
    words = " ".join(POSTS.values()).split()
    for _ in range(300):
        post_create(author=author, text=" ".join(chance.choices(words, k=14)))
    return {key: post_create(author=author, text=text).pk for key, text in POSTS.items()}


def edited(text: str, share: float = 0.10) -> str:
    """One character in ten replaced, deleted or doubled, at random."""
    chance = random.Random(len(text))  # noqa: S311 - test data
    chars = list(text)
    for _ in range(round(share * len(chars))):
        at = chance.randrange(len(chars))
        kind = chance.random()
        if kind < 0.5:
            chars[at] = chance.choice("abcdefghijklmnopqrstuvwxyz")
        elif kind < 0.75:
            del chars[at]
        else:
            chars.insert(at, chars[at])
    return "".join(chars)


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t,
        lambda t: t.upper(),  # casefolding
        lambda t: "ＴＨＥ" + t[3:],  # NFKC (full-width letters)
        lambda t: t.replace(" ", "\u200b ", 3),  # zero-width characters
        lambda t: "  " + t.replace(" ", "   ").replace("—", "-") + "!!",  # spaces, punctuation
        lambda t: f"<p>{t.replace('—', '&mdash;')}</p>",  # Mastodon HTML
        lambda t: t[:48] + "…",  # truncated
        edited,  # 10 % of characters changed
    ],
    ids=["same", "upper", "nfkc", "zero-width", "space-punct", "html", "truncated", "edits"],
)
def test_the_index_finds_the_post_under_each_transformation(corpus, transform):
    """Ensures that looking a dump item up in the fingerprint index (instead of reading every
    post) still matches the right post after each transformation a dump may apply."""
    text = transform(POSTS[2])
    candidates, _ = candidates_find([text_normalize(html_strip(text))])
    assert corpus[2] in candidates[0]
    matches, misses = items_match([DumpItem(text=text)], text_index=True)
    assert [m.post_id for m in matches] == [corpus[2]] and not misses


def test_the_index_path_and_the_full_scan_agree(corpus):
    """Ensures that the index answers as reading every post does, ambiguity included."""
    items = [DumpItem(text=edited(text)) for text in POSTS.values()]
    items += [DumpItem(text="good morning"), DumpItem(text="Nothing like any post here at all")]
    by_index = items_match(items, text_index=True)
    by_scan = items_match(items, text_index=False)
    assert [(m.item_index, m.post_id) for m in by_index[0]] == [
        (m.item_index, m.post_id) for m in by_scan[0]
    ]
    assert [m.item_index for m in by_index[1]] == [m.item_index for m in by_scan[1]]
    assert all(isinstance(m, Match) for m in by_index[0])


def test_a_text_shorter_than_a_chunk_matches_only_exactly(corpus):
    """Ensures that a text too short for a chunk is indexed by its whole text alone."""
    assert len(text_normalize("ok then")) < CHUNK
    post = post_create(author=UserFactory(), text="Ok, then.")
    assert candidates_find([text_normalize("OK THEN")])[0] == [[post.pk]]


def read(user, ip: str, post_ids: list[int]) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=ip)
    request.user = user or AnonymousUser()
    read_gate(request=request, post_ids=post_ids)


def rollup() -> dict:
    return {(row.day, row.reader): (row.posts, row.rows) for row in ReaderDayVolume.objects.all()}


def raw() -> dict:
    result = {}
    for row in (
        DeliveryProvenance.objects.values("day", "user_id", "ip_prefix")
        .annotate(posts=Sum("post_count"), rows=Count("id"))
        .order_by()
    ):
        reader = (
            f"user:{row['user_id']}" if row["user_id"] is not None else f"ip:{row['ip_prefix']}"
        )
        result[(row["day"], reader)] = (row["posts"], row["rows"])
    return result


def test_the_roll_up_always_equals_the_raw_provenance(settings):
    """Ensures that the reader-day roll-up equals the raw provenance after reads on several
    days by accounts and logged-out readers, a re-read that adds nothing, a duplicate row the
    drain skips, and the retention purge; and that a rebuild changes nothing."""
    settings.ACCESS_LEDGER = "database"
    readers = UserFactory.create_batch(3)
    now = timezone.now()
    for days_ago in (400, 2, 1, 0):
        with time_machine.travel(now - timedelta(days=days_ago), tick=False):
            for n, reader in enumerate(readers):
                read(reader, f"10.0.{n}.1", list(range(10 * days_ago, 10 * days_ago + 5 + n)))
            read(None, "192.0.2.7", [1, 2, 3])
            read(None, "192.0.2.8", [4, 5])  # the same /24: one reader
            read(readers[0], "10.0.0.1", list(range(10 * days_ago, 10 * days_ago + 5)))
    row = DeliveryProvenance.objects.order_by("pk").last()
    DeliveryProvenance.objects.bulk_create(  # the drain storing an entry twice
        [DeliveryProvenance(**{f.name: getattr(row, f.name) for f in row._meta.fields[1:]})],
        ignore_conflicts=True,
    )
    assert rollup() == raw() and len(raw()) == 4 * 4
    today = now.date()
    assert rollup()[(today, "ip:192.0.2.0/24")] == (5, 2)
    assert provenance_purge() > 0
    assert rollup() == raw() and len(raw()) == 3 * 4
    before = rollup()
    reader_days_rebuild()
    assert rollup() == before
    days = [today - timedelta(days=d) for d in (2, 1, 0)]
    window = window_volumes(days=days, readers={f"user:{readers[2].pk}", "ip:192.0.2.0/24"})
    volumes = reader_volumes(days=days)
    assert window.readers == len(volumes) and window.total == sum(volumes.values())
    assert window.volumes == {
        f"user:{readers[2].pk}": volumes[f"user:{readers[2].pk}"],
        "ip:192.0.2.0/24": volumes["ip:192.0.2.0/24"],
    }


def test_leak_index_rebuild_restores_both_indexes(corpus, settings):
    """Ensures that leak_index_rebuild rebuilds the fingerprint index of posts bulk-loaded
    without signals, and the roll-up, to what the signals and triggers would have written."""
    from io import StringIO

    from django.core.management import call_command

    settings.ACCESS_LEDGER = "database"
    read(UserFactory(), "10.0.0.1", [corpus[1], corpus[2]])
    (loaded,) = Post.objects.bulk_create(
        [Post(author=UserFactory(), text="Bulk loaded, no signal.")]
    )
    assert not PostFingerprint.objects.filter(post_id=loaded.pk).exists()
    fingerprints_before = set(PostFingerprint.objects.values_list("key", "post_id"))
    rollup_before = rollup()
    out = StringIO()
    call_command("leak_index_rebuild", stdout=out)
    assert "fingerprints:" in out.getvalue() and "roll-up:" in out.getvalue()
    after = set(PostFingerprint.objects.values_list("key", "post_id"))
    assert after == fingerprints_before | {
        (key, loaded.pk) for key in post_keys(text_normalize(loaded.text))
    }
    assert rollup() == rollup_before == raw()
