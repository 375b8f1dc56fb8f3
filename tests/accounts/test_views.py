"""Tests for the account pages: sign-up, log-in, log-out and settings."""

import pytest
from django.urls import reverse

from accounts.models import User
from tests.accounts.conftest import signup_data
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name", ["accounts:signup", "accounts:login", "feeds:public"], ids=lambda n: n
)
def test_anonymous_pages_render(client, name):
    """Ensures that the pages a visitor sees before logging in render."""
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"Sign up" in response.content


def test_signup_creates_account_logs_in_and_goes_home(client):
    """Ensures that a valid sign-up creates the account, logs it in and redirects home."""
    response = client.post(reverse("accounts:signup"), signup_data(email="NewComer@Example.COM"))
    assert response.status_code == 302
    assert response.url == reverse("feeds:home")
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.com"
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "admin"}, "username", "reserved"),
        ({"username": "Admin"}, "username", "reserved"),
        ({"username": "bad name!"}, "username", "letters, digits and underscores"),
        ({"username": ""}, "username", "required"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"password1": "password", "password2": "password"}, "password1", "too common"),
        ({"password1": "12345678901", "password2": "12345678901"}, "password1", "numeric"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password2": "something-else-entirely"}, "password2", "do not match"),
    ],
)
def test_signup_shows_errors_on_the_right_field(client, overrides, field, message):
    """Ensures that refused sign-ups re-render with a 400, the reason on the right field, and
    no account created."""
    response = client.post(reverse("accounts:signup"), signup_data(**overrides))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not User.objects.exists()


def test_signup_refuses_duplicate_username_and_email_without_regard_to_case(client):
    """Ensures that a username or email already taken (in any case) is refused on its field."""
    UserFactory(username="Taken", email="taken@example.com")
    response = client.post(
        reverse("accounts:signup"), signup_data(username="tAKEN", email="TAKEN@example.com")
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "taken" in " ".join(errors["username"])
    assert "already exists" in " ".join(errors["email"])
    assert User.objects.count() == 1


def test_signup_page_redirects_a_logged_in_user_home(client):
    """Ensures that a logged-in user is not offered a second account."""
    client.force_login(UserFactory())
    assert client.get(reverse("accounts:signup")).url == reverse("feeds:home")


def test_login_and_logout(client):
    """Ensures that logging in goes home, a wrong password is refused, and log-out is a POST
    that ends the session."""
    user = UserFactory()
    bad = client.post(reverse("accounts:login"), {"username": user.username, "password": "nope"})
    assert bad.status_code == 200
    assert "correct username and password" in bad.content.decode()
    good = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert good.url == reverse("feeds:home")
    assert client.get(reverse("accounts:logout")).status_code == 405
    out = client.post(reverse("accounts:logout"))
    assert out.url == reverse("feeds:public")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("name", ["accounts:settings", "accounts:password_change"])
def test_settings_need_login(client, name):
    """Ensures that settings pages send a visitor to the log-in page."""
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_settings_profile_saves_display_name_and_bio(client):
    """Ensures that the profile tab renders its tabs and saves display name and bio."""
    user = UserFactory()
    client.force_login(user)
    page = client.get(reverse("accounts:settings"))
    assert page.status_code == 200
    content = page.content.decode()
    for tab in ("Profile", "Password", "Developer"):
        assert f">{tab}</a>" in content
    response = client.post(
        reverse("accounts:settings"), {"display_name": " Ada L. ", "bio": "Counts things."}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.bio) == ("Ada L.", "Counts things.")


def test_settings_profile_refuses_a_long_bio(client):
    """Ensures that a bio over 160 characters is refused with a message and nothing saved."""
    user = UserFactory(bio="old")
    client.force_login(user)
    response = client.post(reverse("accounts:settings"), {"display_name": "", "bio": "x" * 161})
    assert response.status_code == 400
    assert "at most 160 characters" in " ".join(response.context["form"].errors["bio"])
    user.refresh_from_db()
    assert user.bio == "old"


def test_password_change(client):
    """Ensures that the password tab changes the password and keeps the user logged in."""
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("accounts:password_change")).status_code == 200
    new = "a-brand-new-passphrase-42"
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert client.get(reverse("accounts:settings")).status_code == 200


def test_password_change_shows_errors(client):
    """Ensures that a wrong old password is refused with a clear message."""
    client.force_login(UserFactory())
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "wrong",
            "new_password1": "x-y-z-1-2-3-4",
            "new_password2": "x-y-z-1-2-3-4",
        },
    )
    assert response.status_code == 400
    assert "old password was entered incorrectly" in response.content.decode()
