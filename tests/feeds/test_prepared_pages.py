"""Timeline keyset pages compiled once per shape and run prepared (core.prepared,
feeds.selectors.keyset_page_prepared) against the ORM's keyset_page."""

import pytest

from core.prepared import ShapeChanged, queryset_compile
from feeds import models, selectors, services, tags
from feeds.models import Post
from feeds.selectors import PageRequest, keyset_page, keyset_page_prepared
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fields(post: Post) -> dict:
    return {f.attname: getattr(post, f.attname) for f in Post._meta.concrete_fields}


@pytest.fixture
def world():
    """A reader following ann; posts, replies and reposts by ann, bob and a suspended sam;
    every third post tagged #prep."""
    viewer, ann, bob, sam = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    services.follow_create(follower=viewer, followee=ann)
    posts = []
    for n in range(12):
        text = f"post {n} #prep" if n % 3 == 1 else f"post {n}"
        posts.append(services.post_create(author=(ann, bob, sam)[n % 3], text=text))
        if n % 4 == 1:
            posts.append(services.post_create(author=ann, text=f"re {n}", reply_to=posts[-1]))
        if n % 5 == 2:
            posts.append(services.repost_create(user=ann, post=posts[-1]))
    sam.is_active = False
    sam.save(update_fields=["is_active"])
    return viewer, ann, [p.pk for p in posts]


def pages(ids: list[int]) -> list[PageRequest]:
    middle, low = ids[len(ids) // 2], ids[3]
    return [
        PageRequest(limit=5),
        PageRequest(limit=20),
        PageRequest(max_id=middle, limit=3),
        PageRequest(max_id=middle, limit=40),
        PageRequest(since_id=low, limit=4),
        PageRequest(min_id=low, limit=4),
        PageRequest(min_id=low, max_id=middle, limit=2),
        PageRequest(since_id=low, max_id=middle, limit=20),
    ]


def test_prepared_keyset_pages_are_the_orm_pages(world):
    """Ensures that every timeline shape (home, public, a profile with each filter choice, a
    hashtag) gives, for every cursor combination and page length, exactly the rows
    keyset_page gives for the same QuerySet, every field converted alike."""
    viewer, ann, ids = world
    shapes = [
        (selectors.home_posts, {"viewer_id": viewer.pk}),
        (selectors._public_posts, {}),
        *[(shape, {"author_id": ann.pk}) for shape in selectors._PROFILE_SHAPES.values()],
        (tags._tagged_posts, {"tag_id": tags.tag_get(name="prep").pk}),
    ]
    for shape, arguments in shapes:
        for page in pages(ids):
            expected = [fields(p) for p in keyset_page(shape(**arguments), page)]
            prepared = keyset_page_prepared(shape, page, **arguments)
            assert [fields(p) for p in prepared] == expected, (shape, page)
            assert not any(p.get_deferred_fields() for p in prepared)


def test_a_shape_compiles_once_whatever_its_values(world, django_assert_num_queries):
    """Ensures that pages of one shape with other values reuse one compilation, and that
    each is one query."""
    viewer, ann, ids = world
    selectors._keyset_compiled.cache_clear()
    for max_id in ids[5:10]:
        with django_assert_num_queries(1):
            keyset_page_prepared(selectors.home_posts, PageRequest(max_id=max_id), viewer_id=max_id)
    info = selectors._keyset_compiled.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_shape_that_drops_an_argument_is_refused():
    """Ensures that compiling a shape whose QuerySet does not use a declared argument (a
    value baked in, or a filter gone) fails loudly instead of preparing the wrong query."""
    with pytest.raises(ShapeChanged):
        queryset_compile(lambda author_id: Post.objects.filter(author_id=1), ["author_id"])
    compiled = queryset_compile(
        lambda author_id: Post.objects.filter(author_id=author_id, text="x"), ["author_id"]
    )
    assert compiled.params({"author_id": 7}) == [7, "x"]


def test_prepared_statements_run_their_generic_plan_from_the_first_execution(world):
    """Ensures that on PostgreSQL a prepared page is planned once per connection, not per
    execution (settings' DATABASE_PLAN_CACHE_MODE, force_generic_plan by default): the
    default "auto" plans the first five executions with their values and may keep doing so,
    as it did for an account's timeline on every request."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("plan caching is PostgreSQL's")
    viewer, ann, ids = world
    shape = selectors._PROFILE_SHAPES[False, False]
    for max_id in ids[3:10]:
        keyset_page_prepared(shape, PageRequest(max_id=max_id), author_id=ann.pk)
    compiled = selectors._keyset_compiled(connection.vendor, shape, ("author_id",), ("max_id",), 20)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s",
            [compiled.name],
        )
        assert cursor.fetchone() == (7, 0)


def test_a_reader_who_follows_few_gets_the_same_pages_with_the_ids_spelled_out(world, monkeypatch):
    """Ensures that the home rule with the followed ids spelled out (a reader who follows
    few, so PostgreSQL reads each author's index instead of walking the post table) gives
    exactly the subquery's pages, for every cursor combination; and that above the limit,
    or for a reader who follows nobody, the choice is as documented."""
    viewer, ann, ids = world
    followees = models.followees_if_few(viewer.pk)
    assert followees == [ann.pk]
    spelled = Post.objects.visible().home_of(viewer.pk, followees=followees)
    for page in pages(ids):
        expected = [fields(p) for p in keyset_page(selectors.home_posts(viewer_id=viewer.pk), page)]
        assert [fields(p) for p in keyset_page(spelled, page)] == expected, page
        served = selectors.timeline_home(viewer=viewer, page=page)
        assert [p.pk for p in served] == [row["id"] for row in expected], page
    assert models.followees_if_few(UserFactory().pk) == []
    monkeypatch.setattr(models, "HOME_FEW_FOLLOWS", 0)
    assert models.followees_if_few(viewer.pk) is None
