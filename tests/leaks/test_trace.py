"""trace_leak end to end (issue 17): readers read through the real gate, a dump of what one of
them harvested names that reader (and nobody who read the popular posts), the command's --json
holds the named list, and every trace is in the admin action log."""

import hashlib
import json
from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import resolve

from access.gate import read_gate
from accounts.services import token_create
from core.models import AdminActionLog
from feeds.models import Follow, Post
from leaks.fingerprints import fingerprints_write
from leaks.services import leak_trace
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
WORDS = "amber birch cedar delta ember fjord grove harbor island juniper kettle lantern".split()


def sentence(n: int) -> str:
    """A distinct, wordy post text for post number ``n``."""
    words = [WORDS[(n * 7 + k * (n % 5 + 1)) % len(WORDS)] for k in range(12)]
    return f"Post {n}: " + " ".join(words) + f" number {n} ends here."


@pytest.fixture
def world(settings):
    """60 ordinary readers who each follow one author and read the 20 newest posts and that
    author's 5 oldest posts, and one harvester who paged 200 old posts through a token."""
    settings.ACCESS_LEDGER = "database"
    authors = UserFactory.create_batch(12)
    posts = Post.objects.bulk_create(
        [Post(author=authors[n % 12], text=sentence(n)) for n in range(400)]
    )
    fingerprints_write(posts=[(p.pk, p.text) for p in posts])  # bulk_create sends no signal
    ids = [p.pk for p in sorted(posts, key=lambda p: -p.pk)]
    factory = RequestFactory()

    def read(user, ip, post_ids, token=None, path=None):
        for start in range(0, len(post_ids), 40):
            request = factory.get(path or "/", REMOTE_ADDR=ip)
            if path is not None:  # as the URLconf would resolve it: the record names the route
                request.resolver_match = resolve(path)
            request.user = user or AnonymousUser()
            if token is not None:
                request.auth = token
            read_gate(request=request, post_ids=post_ids[start : start + 40])

    readers = UserFactory.create_batch(60)
    Follow.objects.bulk_create(
        [Follow(follower=reader, followee=authors[n % 12]) for n, reader in enumerate(readers)]
    )
    for n, reader in enumerate(readers):
        own = [p.pk for p in posts if p.author_id == authors[n % 12].pk][:5]
        read(reader, f"10.0.{n}.1", ids[:20] + own)
    harvester = UserFactory(username="harvester")
    token, _ = token_create(user=harvester, name="exporter", scopes=["read"])
    read(harvester, "10.9.9.9", ids[100:300], token=token)
    return {
        "ids": ids,
        "harvester": harvester,
        "readers": readers,
        "token": token,
        "authors": authors,
        "posts": posts,
        "read": read,
    }


def dump_of(post_ids) -> str:
    texts = dict(Post.objects.filter(pk__in=post_ids).values_list("id", "text"))
    return "\n".join(texts[pid].casefold() for pid in post_ids) + "\n"


def test_a_harvested_dump_names_the_harvester_with_its_evidence(world):
    """Ensures that a dump of 50 posts the harvester took names it (with its token, prefix
    and counts), and nobody else, and that the trace is recorded with the dump's SHA-256."""
    data = dump_of(world["ids"][120:170])
    result = leak_trace(data=data, fmt="text")
    assert len(result.matched) == 50
    assert [r.principal for r in result.named] == [f"user:{world['harvester'].pk}"]
    named = result.named[0]
    assert named.username == "harvester" and named.posts == 50 and named.in_cover
    assert named.tokens == [{"id": world["token"].pk, "name": "exporter"}]
    assert named.ip_prefixes == ["10.9.9.0/24"]
    logged = AdminActionLog.objects.get(action="leak_trace")
    assert logged.details["sha256"] == hashlib.sha256(data.encode()).hexdigest()
    assert logged.details["named"][0]["principal"] == named.principal


def test_a_dump_of_posts_everybody_read_names_nobody(world):
    """Ensures that a dump of the posts every reader received says "no confident match"."""
    result = leak_trace(data=dump_of(world["ids"][:20]), fmt="text")
    assert result.named == []
    assert result.verdict.startswith("no confident match")


def test_a_non_follower_with_posts_only_followers_received_is_named(world):
    """Ensures that an account following none of four authors, holding one of each author's
    posts that only its followers received, is named (within the non-followers, nobody else
    received them), while a follower of the four who read the very same posts is not."""
    posts, authors, read = world["posts"], world["authors"], world["read"]
    rare = [posts[n].pk for n in range(4)]  # the oldest post of authors 0..3
    outsider, fan = UserFactory(username="outsider"), UserFactory(username="fan")
    Follow.objects.bulk_create([Follow(follower=fan, followee=a) for a in authors[:4]])
    read(outsider, "10.7.7.7", world["ids"][:20] + rare)
    read(fan, "10.8.8.8", world["ids"][:20] + rare)
    result = leak_trace(data=dump_of(rare), fmt="text")
    assert [r.username for r in result.named] == ["outsider"]
    assert result.named[0].related_groups == 0
    fan_report = next(r for r in result.suspects if r.username == "fan")
    assert not fan_report.named and fan_report.related_groups == 4


def test_a_reader_who_got_the_posts_on_its_home_timeline_counts_as_a_follower(world):
    """Ensures that an account which received the same four posts on its home timeline (so it
    followed the authors then) but follows nobody now is compared with the followers and not
    named: the access log's route says how the posts reached it."""
    rare = [world["posts"][n].pk for n in range(4)]
    former = UserFactory(username="former")
    world["read"](former, "10.6.6.6", world["ids"][:20] + rare, path="/")
    result = leak_trace(data=dump_of(rare), fmt="text")
    assert result.named == []
    report = next(r for r in result.suspects if r.username == "former")
    assert report.related_groups == 4


def test_command_json_holds_the_named_list(world, tmp_path):
    """Ensures that trace_leak --json prints one object whose named list has principal,
    username, posts and significance, for a Mastodon-style JSON dump with URLs."""
    statuses = [
        {"id": str(pid), "url": f"https://example.com/posts/{pid}/", "content": f"<p>{text}</p>"}
        for pid, text in Post.objects.filter(pk__in=world["ids"][150:200]).values_list("id", "text")
    ]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(statuses))
    out = StringIO()
    call_command("trace_leak", str(path), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert {m["method"] for m in result["matched"]} == {"url"}
    (named,) = result["named"]
    assert named["principal"] == f"user:{world['harvester'].pk}"
    assert named["username"] == "harvester" and named["posts"] == 50
    assert named["significance"] >= 5


def test_command_refuses_unreadable_input_clearly(tmp_path):
    """Ensures that a missing file or an unreadable dump is a CommandError with a reason."""
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("trace_leak", str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,author\n1,bob\n")
    with pytest.raises(CommandError, match="no text column"):
        call_command("trace_leak", str(bad), "--format", "csv")
