"""Every route that shows posts says what their authors decided about AI training.

The routes come from the URLconf (tests/security/routes.py), not from a list: a new route
that shows posts without the read gate — so without the signals — fails here.
"""

import json
import re

import pytest
from django.test import Client

from feeds.services import follow_create, post_create, repost_create
from tests.factories import UserFactory
from tests.security.routes import route_templates

pytestmark = pytest.mark.django_db

NOAI_META = re.compile(r'<meta name="robots" content="noai, noimageai">')
# The surfaces that must be among those checked: if one stops showing posts, say so.
EXPECTED_SURFACES = {
    "/public/",
    "/@{name}/",
    "/posts/{post}/",
    "/api/v1/timelines/public",
    "/api/v1/statuses/{post}",
    "/api/v1/statuses/{post}/context",
    "/api/v1/accounts/{user}/statuses",
}


def _scenario(kind: str) -> dict:
    """Posts for one scenario. ``allowed``/``disallowed``: one author who decided so;
    ``mixed``: an author who allows, whose thread has a reply, and whose profile a repost,
    from one who does not. ``texts`` maps what each post shows to whether its author allows."""
    main = UserFactory(username="main", ai_training_allowed=kind != "disallowed")
    other = UserFactory(username="other", ai_training_allowed=kind == "allowed")
    post = post_create(author=main, text=f"the {kind} post by main")
    main_allows = kind != "disallowed"
    texts = {post.text: main_allows}
    if kind != "mixed":
        texts[post_create(author=main, text="main replies", reply_to=post).text] = main_allows
    else:
        texts[post_create(author=other, text="a reply by other", reply_to=post).text] = False
        repost_create(user=main, post=post_create(author=other, text="a post by other"))
        texts["a post by other"] = False
    return {"main": main, "post": post, "texts": texts, "other": other}


def _client(logged_in: bool, scenario: dict) -> Client:
    client = Client()
    if logged_in:
        reader = UserFactory(username="reader")
        follow_create(follower=reader, followee=scenario["main"])
        client.force_login(reader)
    return client


def _shown(response, texts: dict[str, bool]) -> list[bool]:
    """Whether each post the response shows may be trained on (its author's choice)."""
    body = response.content.decode(errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        body = json.dumps(response.json())
    return [allowed for text, allowed in texts.items() if text in body]


def _status_entities(data) -> list[dict]:
    """Every Status in an API body (lists, a context, one status), reblogs included."""
    if isinstance(data, dict) and "ancestors" in data:
        items = data["ancestors"] + data["descendants"]
    elif isinstance(data, dict):
        items = [data] if "content" in data else []
    else:
        items = [item for item in data if isinstance(item, dict) and "content" in item]
    found = []
    for item in items:
        found.append(item)
        if item.get("reblog"):
            found.append(item["reblog"])
    return found


@pytest.mark.parametrize("logged_in", [False, True], ids=["logged-out", "logged-in"])
@pytest.mark.parametrize("kind", ["allowed", "disallowed", "mixed"])
def test_every_route_that_shows_posts_states_the_strictest_preference(kind, logged_in):
    """Ensures that every GET route that shows a post carries Content-Usage, tdm-reservation
    and (when disallowed) noai — the strictest of the page's authors — and that API statuses
    carry their own author's preference."""
    scenario = _scenario(kind)
    client = _client(logged_in, scenario)
    checked, mixed_pages, entities = set(), 0, 0
    for template in route_templates():
        path = template.format(
            post=scenario["post"].pk, user=scenario["main"].pk, name=scenario["main"].username
        )
        response = client.get(path, HTTP_ACCEPT="text/html,application/json")
        shown = _shown(response, scenario["texts"]) if response.status_code == 200 else []
        if not shown:
            continue
        checked.add(template)
        allowed = all(shown)  # the strictest of the page's authors
        mixed_pages += len(set(shown)) > 1
        assert response.get("Content-Usage") == ("train-ai=y" if allowed else "train-ai=n"), path
        assert response.get("tdm-reservation") == ("0" if allowed else "1"), path
        assert response.get("tdm-policy", "").endswith("/licensing/tdm-policy.json"), path
        assert ("X-Robots-Tag" in response) is not allowed, path
        if response["Content-Type"].startswith("text/html"):
            html = response.content.decode()
            assert bool(NOAI_META.search(html)) is not allowed, path
            assert f'<meta name="tdm-reservation" content="{0 if allowed else 1}">' in html
        else:
            for status in _status_entities(response.json()):
                own = scenario["texts"].get(status["content"].removeprefix("<p>")[:-4])
                if own is not None:
                    entities += 1
                    assert status["content_usage"] == f"train-ai={'y' if own else 'n'}", path
    assert entities >= 5  # the API statuses were looked at, not skipped
    missing = EXPECTED_SURFACES - checked
    assert not missing, f"these routes no longer show posts with signals: {sorted(missing)}"
    if logged_in:
        assert {"/", "/api/v1/timelines/home"} <= checked
    if kind == "mixed":
        assert mixed_pages >= 4  # public, profile and thread pages, API timelines and context


def _admin_post_paths(post_id: int) -> dict[str, str]:
    """Every GET page of the post admin, from its own URL patterns (not a list): the
    changelist and each page of one post (change, delete, history, …)."""
    from django.contrib import admin
    from django.urls import reverse

    from feeds.models import Post

    paths = {}
    for pattern in admin.site._registry[Post].urls:
        name = pattern.name or ""
        if not name or name.endswith("_add"):
            continue  # the add form shows no post
        kwargs = {"object_id": post_id} if "object_id" in str(pattern.pattern) else {}
        paths[name] = reverse(f"admin:{name}", kwargs=kwargs)
    return paths


@pytest.mark.parametrize("kind", ["allowed", "disallowed", "mixed"])
def test_the_admin_post_pages_state_the_strictest_preference(kind):
    """Ensures that the staff-only post pages in the admin — the changelist and every page of
    one post — carry Content-Usage, tdm-reservation and (when disallowed) the noai header
    and meta, the strictest of the posts' authors they show, as every other page does."""
    scenario = _scenario(kind)
    client = Client()
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    # What the admin shows of each post: its text (a row or a label, up to 40 characters).
    texts = {text[:40]: allowed for text, allowed in scenario["texts"].items()}
    target, parent_allows = scenario["post"], True
    if kind == "mixed":
        # A post whose pages carry a disallowing author's post too: a reply to one by "other"
        # (its parent is charged with it and shown in its form; one strict author is enough).
        parent = next(p for p in scenario["other"].posts.all() if not p.repost_of_id)
        target = post_create(author=scenario["main"], text="main answers other", reply_to=parent)
        texts[target.text], parent_allows = True, False
    checked = set()
    for name, path in _admin_post_paths(target.pk).items():
        response = client.get(path)
        assert response.status_code == 200, path
        shown = _shown(response, texts)
        if not shown:
            continue
        checked.add(name)
        allowed = all(shown) and (name.endswith("_changelist") or parent_allows)
        assert response.get("Content-Usage") == ("train-ai=y" if allowed else "train-ai=n"), path
        assert response.get("tdm-reservation") == ("0" if allowed else "1"), path
        assert ("X-Robots-Tag" in response) is not allowed, path
        html = response.content.decode()
        assert bool(NOAI_META.search(html)) is not allowed, path
        assert f'<meta name="tdm-reservation" content="{0 if allowed else 1}">' in html, path
    expected = {
        "feeds_post_changelist",
        "feeds_post_change",
        "feeds_post_delete",
        "feeds_post_history",
    }
    assert expected <= checked, f"admin post pages without signals: {expected - checked}"
