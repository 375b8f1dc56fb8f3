"""The matcher (issue 17): each transformation a leaked dump may have applied still finds the
post; ids and URLs are believed only when the text agrees; ambiguity matches nothing."""

import json

import pytest

from leaks.dumps import DumpError, DumpItem, dump_parse
from leaks.matching import Match, Miss, PostMatcher, text_normalize

POSTS = {
    1: "Fresh sourdough this morning, crumb looks perfect! Recipe in the thread below.",
    2: "The council votes on the new cycle lanes tonight — come and say what you think.",
    3: "Three things I learned shipping our first Django app to production this week.",
    4: "good morning",
    5: "good morning",
}


@pytest.fixture
def matcher():
    return PostMatcher(POSTS.items())


def matched(matcher, item: DumpItem) -> Match | Miss:
    return matcher.match(0, item)


@pytest.mark.parametrize(
    "text",
    [
        POSTS[2],
        POSTS[2].upper(),  # casefolding
        "ＴＨＥ council votes on the new cycle lanes tonight — come and say what you think.",
        "The\u200b council votes on the new\u200d cycle lanes tonight - come and say what you "
        "think",
        "  The council   votes on the new cycle lanes\ttonight come and say what you think!!  ",
        "<p>The council votes on the new cycle lanes tonight &mdash; come and say what you "
        "think.</p>",  # Mastodon HTML
        "The council votes on the new cycle lanes tonight — come and…",  # truncated
        "The councll votes on the new cycle lanes tonite — come and say wht you think.",  # edits
    ],
    ids=["same", "upper", "fullwidth", "zero-width", "space-punct", "html", "truncated", "edits"],
)
def test_each_transformation_still_matches(matcher, text):
    """Ensures that NFKC casefolding, zero-width characters, whitespace and punctuation
    changes, HTML, truncation and small edits all still match the right post."""
    found = matched(matcher, DumpItem(text=text))
    assert isinstance(found, Match) and found.post_id == 2


def test_unrelated_text_matches_nothing(matcher):
    """Ensures that a text unlike every post is left unmatched, with the reason."""
    found = matched(matcher, DumpItem(text="Completely different words about football scores."))
    assert isinstance(found, Miss) and "similar" in found.reason


def test_a_text_two_posts_share_is_ambiguous(matcher):
    """Ensures that a text two posts share matches neither: it could accuse the wrong one."""
    found = matched(matcher, DumpItem(text="Good morning!"))
    assert isinstance(found, Miss) and "ambiguous" in found.reason


def test_ids_and_urls_are_believed_only_when_the_text_agrees(matcher):
    """Ensures that our post URL or id matches when the text agrees (or is absent), and that a
    foreign id with another text falls back to matching by text."""
    by_url = matched(matcher, DumpItem(text=POSTS[3], url="https://example.com/posts/3/"))
    assert isinstance(by_url, Match) and (by_url.method, by_url.post_id) == ("url", 3)
    by_id = matched(matcher, DumpItem(text="", post_id="1"))
    assert isinstance(by_id, Match) and (by_id.method, by_id.post_id) == ("id", 1)
    foreign = matched(matcher, DumpItem(text=POSTS[3], post_id="1"))
    assert isinstance(foreign, Match) and (foreign.method, foreign.post_id) == ("exact", 3)


def test_normalisation():
    """Ensures that normalisation folds case and width, drops format characters and turns
    punctuation and symbols into single spaces."""
    assert text_normalize("Ｈｅｌｌｏ,\u200b  WORLD!! 🎉 ok") == "hello world ok"


def test_every_dump_format_is_read():
    """Ensures that Mastodon JSON (with a reblog), X-style JSON, JSON lines, CSV and text are
    each read into items, by sniffing and by name."""
    mastodon = json.dumps(
        [
            {"id": "3", "url": "https://x.test/posts/3/", "content": "<p>hi</p>"},
            {"id": "9", "content": "", "reblog": {"id": "2", "content": "<p>orig</p>"}},
        ]
    )
    x_style = json.dumps({"data": [{"id_str": "123", "text": "a tweet"}]})
    jsonl = '{"text": "one"}\n{"full_text": "two"}\n'
    csv_text = 'id,text,author\n1,hello there,bob\n2,"quoted, with comma",amy\n'
    plain = "first line\n\nsecond line\n"
    assert [i.post_id for i in dump_parse(mastodon)] == ["3", "2"]
    assert dump_parse(x_style)[0] == DumpItem(text="a tweet", post_id="123")
    assert [i.text for i in dump_parse(jsonl)] == ["one", "two"]
    assert [i.text for i in dump_parse(csv_text)] == ["hello there", "quoted, with comma"]
    assert [i.text for i in dump_parse(plain)] == ["first line", "second line"]
    assert [i.text for i in dump_parse(csv_text, fmt="text")][0] == "id,text,author"


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        ("", "auto", "empty"),
        (b"\xff\xfe\xfa", "auto", "UTF-8"),
        ("[1, 2", "json", "not valid JSON"),
        ("id,author\n1,bob\n", "csv", "no text column"),
        ("{}", "json", "No posts"),
        ("x", "yaml", "Unknown format"),
    ],
)
def test_unreadable_dumps_say_why(data, fmt, message):
    """Ensures that a dump that cannot be read raises DumpError with a human reason."""
    with pytest.raises(DumpError, match=message):
        dump_parse(data, fmt=fmt)
