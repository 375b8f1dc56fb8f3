"""The author's say on AI training: the settings tab, update_credentials and the site default."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.ai_training import (
    ai_training_allowed,
    ai_training_allowed_q,
    any_author_disallows,
)
from accounts.models import User
from feeds.models import Post
from feeds.services import post_create
from tests.api.conftest import assert_schema, make_caller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/update_credentials"


def test_settings_tab_saves_the_choice_and_the_next_page_says_so():
    """Ensures that the settings tab stores allow/disallow/default and that the author's own
    next page carries the new preference."""
    author = UserFactory()
    post_create(author=author, text="hello")
    client = Client()
    client.force_login(author)
    page = client.get("/accounts/settings/ai-training/")
    assert page.status_code == 200
    assert "may not</strong> be used to train AI models" in page.content.decode()
    assert client.get(f"/@{author.username}/")["Content-Usage"] == "train-ai=n"

    saved = client.post("/accounts/settings/ai-training/", {"choice": "allow"})
    assert saved.status_code == 302
    author.refresh_from_db()
    assert author.ai_training_allowed is True
    assert client.get(f"/@{author.username}/")["Content-Usage"] == "train-ai=y"

    client.post("/accounts/settings/ai-training/", {"choice": "default"})
    author.refresh_from_db()
    assert author.ai_training_allowed is None
    assert client.get(f"/@{author.username}/")["Content-Usage"] == "train-ai=n"


def test_settings_tab_refuses_an_unknown_choice():
    """Ensures that a choice that is not offered is a 400 with the form's message, and nothing
    changes."""
    author = UserFactory(ai_training_allowed=False)
    client = Client()
    client.force_login(author)
    response = client.post("/accounts/settings/ai-training/", {"choice": "maybe"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    author.refresh_from_db()
    assert author.ai_training_allowed is False


def test_update_credentials_sets_the_choice_and_shows_it():
    """Ensures that PATCH update_credentials takes ai_training (JSON or form), answers with the
    CredentialAccount showing it, and the author's statuses carry it from the next response."""
    caller = make_caller()
    post = post_create(author=caller.user, text="hello")
    response = caller.client.patch(URL, {"ai_training": "allow"}, format="json")
    assert response.status_code == 200
    assert_schema(response, "accounts_update_credentials")
    assert response.json()["source"]["ai_training"] == "allow"
    assert response.json()["content_usage"] == "train-ai=y"
    status = caller.client.get(f"/api/v1/statuses/{post.pk}")
    assert status.json()["content_usage"] == "train-ai=y"
    assert status["Content-Usage"] == "train-ai=y"

    response = caller.client.patch(URL, {"ai_training": "disallow"})  # a form body
    assert response.status_code == 200
    assert response.json()["source"]["ai_training"] == "disallow"
    status = caller.client.get(f"/api/v1/statuses/{post.pk}")
    assert status.json()["content_usage"] == "train-ai=n"
    assert status["tdm-reservation"] == "1"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"ai_training": "sometimes"}, 422, 'ai_training must be one of "allow"'),
        (["ai_training", "allow"], 400, "JSON object or a form"),
    ],
)
def test_update_credentials_refuses_bad_input(body, status, message):
    """Ensures that a bad ai_training value or body is a 4xx with a readable message."""
    caller = make_caller()
    response = caller.client.patch(URL, body, format="json")
    assert response.status_code == status
    assert message in response.json()["error"]
    caller.user.refresh_from_db()
    assert caller.user.ai_training_allowed is None


def test_update_credentials_needs_a_writing_caller():
    """Ensures that a logged-out caller gets 401 and a read-only token 403."""
    assert APIClient().patch(URL, {"ai_training": "allow"}, format="json").status_code == 401
    reader = make_caller(scopes=("read",))
    assert reader.client.patch(URL, {"ai_training": "allow"}, format="json").status_code == 403
    reader.user.refresh_from_db()
    assert reader.user.ai_training_allowed is None


def test_site_default_applies_to_authors_who_did_not_choose(settings):
    """Ensures that AI_TRAINING_DEFAULT decides for authors without a choice, and an explicit
    choice wins over it either way."""
    undecided, refuses, allows = (
        UserFactory(),
        UserFactory(ai_training_allowed=False),
        UserFactory(ai_training_allowed=True),
    )
    assert [ai_training_allowed(u) for u in (undecided, refuses, allows)] == [False, False, True]
    settings.AI_TRAINING_DEFAULT = "allow"
    assert [ai_training_allowed(u) for u in (undecided, refuses, allows)] == [True, False, True]


@pytest.mark.parametrize("default", ["allow", "disallow"])
def test_query_condition_and_the_function_give_one_answer(settings, default):
    """Ensures that the database condition (on users, and on posts through their author) picks
    exactly the authors ``ai_training_allowed`` says yes to, under either site default, and
    that ``any_author_disallows`` agrees."""
    settings.AI_TRAINING_DEFAULT = default
    authors = [UserFactory(ai_training_allowed=choice) for choice in (True, False, None)]
    for author in authors:
        post_create(author=author, text="hello")
    ids = [author.pk for author in authors]
    expected = {author.pk for author in authors if ai_training_allowed(author)}
    users = User.objects.filter(ai_training_allowed_q(), pk__in=ids)
    assert set(users.values_list("pk", flat=True)) == expected
    posts = Post.objects.filter(ai_training_allowed_q(via="author__"), author_id__in=ids)
    assert set(posts.values_list("author_id", flat=True)) == expected
    assert any_author_disallows()
    User.objects.update(ai_training_allowed=True)
    assert not any_author_disallows()
