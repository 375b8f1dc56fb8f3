"""Password reset, password change and email change in the web UI: each needs the right proof
(a one-time emailed link, or the current password), is rate-limited with a 429 page, answers
errors with a message (never a 500) and tells nobody whether an address has an account."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import EMAIL_TAKEN_MESSAGE, User
from accounts.selectors import email_is_confirmed, token_authenticate
from accounts.services import (
    EMAIL_CHANGED_EVENT,
    PASSWORD_CHANGED_EVENT,
    PASSWORD_RESET_EVENT,
    token_create,
)
from core.models import SecurityEvent
from tests.accounts.conftest import email_confirmed
from tests.factories import DEFAULT_PASSWORD, UserFactory
from verification.selectors import verification_eligibility
from verification.services import verification_grant

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NEW_PASSWORD = "a-brand-new-passphrase-42"
RESET = reverse("accounts:password_reset")
EMAIL_TAB = reverse("accounts:email_change")
PASSWORD_TAB = reverse("accounts:password_change")
LINK_RE = re.compile(r"https?://[^/\s]+(/\S+)")


@pytest.fixture(autouse=True)
def clock():
    """Frozen at noon UTC: rate-limit windows and link lifetimes are measured from here."""
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def link_path(message) -> str:
    return LINK_RE.search(message.body).group(1)


def reset_request(email: str, ip: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=ip).post(RESET, {"email": email})


def reset_with_link(path: str, password: str = NEW_PASSWORD, client: Client | None = None):
    """Open an emailed link (which hides the token in the session and redirects) and choose
    ``password`` on the page it leads to. Returns the client and the final response."""
    client = client or Client()
    opened = client.get(path)
    if opened.status_code != 302:
        return client, opened
    return client, client.post(opened.url, {"new_password1": password, "new_password2": password})


def assert_429(response, group: str, limit: int) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["RateLimit-Policy"].startswith(f'"{group}";q={limit};w=')
    assert "Please wait" in response.content.decode()


# --- Password reset -------------------------------------------------------------------------


def test_login_page_links_to_password_reset(client):
    """Ensures that the log-in page offers "Forgot your password?" and that the page renders
    with a CSRF-protected form."""
    login_page = client.get(reverse("accounts:login")).content.decode()
    assert f'href="{RESET}"' in login_page
    assert "Forgot your password?" in login_page
    page = client.get(RESET)
    assert page.status_code == 200
    assert "csrfmiddlewaretoken" in page.content.decode()


def test_reset_email_carries_a_one_time_link_that_sets_the_password():
    """Ensures that asking for a reset mails the account's address a link; the link leads to
    a page that sets the new password, records the reset, and works only once."""
    user = UserFactory(email="sam@example.com")
    response = reset_request("sam@example.com")
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sam@example.com"]
    assert "expires in 1 hour" in message.body
    path = link_path(message)

    client, done = reset_with_link(path)
    assert done.status_code == 302
    assert done.url == reverse("accounts:login")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert "Your password was reset" in client.get(done.url).content.decode()
    assert SecurityEvent.objects.filter(kind=PASSWORD_RESET_EVENT, user=user).count() == 1
    logged_in = Client().post(
        reverse("accounts:login"), {"username": user.username, "password": NEW_PASSWORD}
    )
    assert logged_in.status_code == 302

    _, again = reset_with_link(path, password="another-passphrase-77")
    assert again.status_code == 400
    assert "This link does not work" in again.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_reset_link_expires_after_an_hour(clock):
    """Ensures that a link works for PASSWORD_RESET_TIMEOUT (1 hour) and not a second more."""
    user = UserFactory()
    reset_request(user.email)
    path = link_path(mail.outbox[0])
    clock.shift(timedelta(hours=1, seconds=1))
    _, response = reset_with_link(path)
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_link_still_works_just_before_the_hour(clock):
    """Ensures that the hour is the whole hour: a link used after 59 minutes works."""
    user = UserFactory()
    reset_request(user.email)
    clock.shift(timedelta(minutes=59))
    _, response = reset_with_link(link_path(mail.outbox[0]))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_unknown_address_gets_the_same_answer_and_no_email():
    """Ensures that the answer for an address without an account is the same as for one with
    an account (same redirect, same page), and that no email is sent for it."""
    UserFactory(email="known@example.com")
    known = reset_request("known@example.com", ip="198.51.100.1")
    unknown = reset_request("nobody@example.com", ip="198.51.100.2")
    assert (known.status_code, known.url) == (unknown.status_code, unknown.url)
    known_page = Client().get(known.url)
    unknown_page = Client().get(unknown.url)
    assert known_page.content == unknown_page.content
    assert "If an account uses that address" in known_page.content.decode()
    assert [m.to for m in mail.outbox] == [["known@example.com"]]


def test_reset_finds_the_account_by_its_mailbox_and_mails_its_own_address():
    """Ensures that another spelling of the account's mailbox finds it, and that the link goes
    to the address the account has, never to the address typed."""
    UserFactory(email="jane.doe@gmail.com")
    reset_request("Jane.Doe+forgot@GoogleMail.com")
    assert [m.to for m in mail.outbox] == [["jane.doe@gmail.com"]]


def test_inactive_account_gets_no_email():
    """Ensures that a deactivated account cannot be reset (and the answer looks the same)."""
    UserFactory(email="gone@example.com", is_active=False)
    response = reset_request("gone@example.com")
    assert response.status_code == 302
    assert mail.outbox == []


def test_reset_logs_out_every_session_and_revokes_api_tokens():
    """Ensures that after a reset the account's other sessions are logged out, its API tokens
    stop working (each revocation recorded), and the reset is recorded."""
    user = UserFactory()
    elsewhere = Client()
    elsewhere.force_login(user)
    assert elsewhere.get(reverse("accounts:settings")).status_code == 200
    _, raw = token_create(user=user, name="phone app", scopes=["read"])
    assert token_authenticate(raw=raw) is not None

    reset_request(user.email)
    client, done = reset_with_link(link_path(mail.outbox[0]))
    assert done.status_code == 302
    assert "revoked" in client.get(done.url).content.decode()

    kicked = elsewhere.get(reverse("accounts:settings"))
    assert kicked.status_code == 302
    assert kicked.url.startswith(reverse("accounts:login"))
    assert token_authenticate(raw=raw) is None
    assert SecurityEvent.objects.filter(kind=SecurityEvent.TOKEN_REVOKED, user=user).count() == 1
    event = SecurityEvent.objects.get(kind=PASSWORD_RESET_EVENT, user=user)
    assert len(event.details["tokens_revoked"]) == 1


def test_reset_request_refused_past_five_an_hour_per_network():
    """Ensures that a network may ask for 5 reset links an hour (whatever the addresses), the
    sixth is a 429 page that says why and when, and another network is unaffected."""
    for n in range(5):
        assert reset_request(f"person{n}@example.com").status_code == 302
    refused = reset_request("person5@example.com")
    assert_429(refused, "password_reset", 5)
    assert "Too many reset requests" in refused.content.decode()
    assert reset_request("person5@example.com", ip="203.0.113.9").status_code == 302


def test_reset_request_refused_past_three_an_hour_per_mailbox():
    """Ensures that one mailbox gets at most 3 links an hour, from any network and in any
    spelling; the mailbox without an account is limited the same way (a 429 tells nothing)."""
    UserFactory(email="sam@example.com")
    spellings = ["sam@example.com", "Sam@Example.com", "sam+a@example.com", "SAM+b@example.com"]
    answers = [reset_request(email, ip=f"203.0.113.{n}") for n, email in enumerate(spellings)]
    assert [answer.status_code for answer in answers[:3]] == [302, 302, 302]
    assert_429(answers[3], "password_reset_email", 3)
    assert len(mail.outbox) == 3

    unknown = [reset_request("ghost@example.com", ip=f"192.0.2.{n}") for n in range(4)]
    assert [answer.status_code for answer in unknown] == [302, 302, 302, 429]
    assert reset_request("other@example.com", ip="192.0.2.99").status_code == 302


def test_reset_limits_free_up_after_their_window(clock):
    """Ensures that the per-mailbox limit lets the mailbox ask again an hour later."""
    user = UserFactory()
    for n in range(3):
        reset_request(user.email, ip=f"203.0.113.{n}")
    assert reset_request(user.email, ip="203.0.113.50").status_code == 429
    clock.shift(timedelta(hours=1, minutes=1))
    assert reset_request(user.email, ip="203.0.113.51").status_code == 302
    assert len(mail.outbox) == 4


@pytest.mark.parametrize(
    ("email", "message"), [("", "required"), ("not-an-email", "valid email"), ("a@" * 200, "")]
)
def test_reset_request_with_a_bad_address_is_a_400(client, email, message):
    """Ensures that a malformed address is refused on the form with a 400 and a message."""
    response = client.post(RESET, {"email": email})
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["email"])
    assert message in errors
    assert mail.outbox == []


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password/reset/MQ/set-password/",
        "/accounts/password/reset/MQ/abc-123/",
        "/accounts/password/reset/%E2%80%AE/x/",
        "/accounts/password/reset/99999999999999999999999/x/",
    ],
)
def test_made_up_reset_links_are_a_400(client, path):
    """Ensures that a made-up, truncated or garbage link answers 400 with a way forward."""
    UserFactory()
    response = client.get(path)
    assert response.status_code == 400
    assert "Ask for a new link" in response.content.decode()
    assert client.post(path, {"new_password1": "x", "new_password2": "x"}).status_code == 400


def test_reset_refuses_a_weak_new_password_with_a_400():
    """Ensures that the new password passes the password validators, with a message."""
    user = UserFactory()
    reset_request(user.email)
    _, response = reset_with_link(link_path(mail.outbox[0]), password="password")
    assert response.status_code == 400
    assert "too common" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_forms_refuse_a_post_without_a_csrf_token():
    """Ensures that every form of these flows is CSRF-protected (403 without the token)."""
    user = UserFactory(email="me@example.com")
    client = Client(enforce_csrf_checks=True)
    assert client.post(RESET, {"email": user.email}).status_code == 403
    client.force_login(user)
    password = {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD}
    assert client.post(PASSWORD_TAB, password).status_code == 403
    email = {"email": "new@example.com", "current_password": DEFAULT_PASSWORD}
    assert client.post(EMAIL_TAB, email).status_code == 403
    user.refresh_from_db()
    assert user.email == "me@example.com"
    assert user.check_password(DEFAULT_PASSWORD)
    assert mail.outbox == []


# --- Password change (settings) -------------------------------------------------------------


def change_password(client, old: str, new: str = NEW_PASSWORD):
    return client.post(
        PASSWORD_TAB, {"old_password": old, "new_password1": new, "new_password2": new}
    )


def test_password_change_needs_the_current_password_and_keeps_this_session():
    """Ensures that the current password is the proof: a wrong one changes nothing; the right
    one changes it, keeps this session, logs the others out and is recorded."""
    user = UserFactory()
    client, elsewhere = Client(), Client()
    client.force_login(user)
    elsewhere.force_login(user)

    wrong = change_password(client, "not-my-password")
    assert "not-my-password" not in wrong.content.decode()
    assert wrong.context["form"].has_error("old_password", "password_incorrect")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)

    right = change_password(client, DEFAULT_PASSWORD)
    assert right.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    page = client.get(right.url)
    assert page.status_code == 200
    assert "Your password was changed" in page.content.decode()
    assert elsewhere.get(reverse("accounts:settings")).status_code == 302
    assert SecurityEvent.objects.filter(kind=PASSWORD_CHANGED_EVENT, user=user).count() == 1


def test_wrong_current_passwords_are_limited_across_the_password_and_email_tabs(clock):
    """Ensures that 5 wrong current passwords in 15 minutes (on either tab) stop both tabs
    from accepting even the right one, with a 429 page, until the window is over."""
    user = UserFactory()
    client = Client()
    client.force_login(user)
    for _ in range(3):
        change_password(client, "guess-1")
    for _ in range(2):
        client.post(EMAIL_TAB, {"email": "new@example.com", "current_password": "guess-2"})

    refused = change_password(client, DEFAULT_PASSWORD)
    assert_429(refused, "current_password_failures", 5)
    assert "Too many wrong passwords" in refused.content.decode()
    email = {"email": "new@example.com", "current_password": DEFAULT_PASSWORD}
    assert client.post(EMAIL_TAB, email).status_code == 429
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.email != "new@example.com"

    clock.shift(timedelta(minutes=16))
    assert change_password(client, DEFAULT_PASSWORD).status_code == 302


def test_right_passwords_and_other_mistakes_do_not_count_as_failures():
    """Ensures that only a wrong current password counts: mismatched new passwords do not."""
    client = Client()
    client.force_login(UserFactory())
    for _ in range(6):
        response = client.post(
            PASSWORD_TAB,
            {"old_password": DEFAULT_PASSWORD, "new_password1": "abc-1", "new_password2": "x"},
        )
        assert response.status_code != 429
    assert change_password(client, DEFAULT_PASSWORD).status_code == 302


# --- Email change (settings) ----------------------------------------------------------------


def change_email(client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post(EMAIL_TAB, {"email": email, "current_password": password})


def test_email_tab_needs_a_login_and_shows_the_address_and_its_state(client):
    """Ensures that the Email tab is for logged-in accounts and says whether the address is
    confirmed."""
    assert client.get(EMAIL_TAB).status_code == 302
    user = UserFactory(email="me@example.com")
    client.force_login(user)
    page = client.get(EMAIL_TAB).content.decode()
    assert "me@example.com" in page
    assert "not confirmed yet" in page
    assert ">Email</a>" in page
    email_confirmed(user)
    assert "not confirmed yet" not in client.get(EMAIL_TAB).content.decode()


def test_email_change_needs_the_current_password(client):
    """Ensures that without the right current password the address stays and no mail goes."""
    user = UserFactory(email="me@example.com")
    client.force_login(user)
    for password in ("wrong-password", ""):
        response = change_email(client, "new@example.com", password)
        assert response.status_code == 400
        assert response.context["form"].errors["current_password"]
    user.refresh_from_db()
    assert user.email == "me@example.com"
    assert mail.outbox == []
    assert not SecurityEvent.objects.filter(kind=EMAIL_CHANGED_EVENT).exists()


@pytest.mark.parametrize(
    "address",
    ["Taken+x@example.com", "taken@example.com", "TAKEN@EXAMPLE.COM", '"taken"@example.com'],
)
def test_email_change_refuses_a_mailbox_another_account_has(client, address):
    """Ensures that any spelling of another account's mailbox is refused on the field with a
    400, nothing changed and nothing mailed."""
    UserFactory(email="taken@example.com")
    user = UserFactory(email="me@example.com")
    client.force_login(user)
    response = change_email(client, address)
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [EMAIL_TAKEN_MESSAGE]
    user.refresh_from_db()
    assert user.email == "me@example.com"
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("address", "message"),
    [("me@example.com", "already your address"), ("not-an-email", "valid email"), ("", "required")],
)
def test_email_change_refuses_a_bad_or_unchanged_address(client, address, message):
    """Ensures that the same address, a malformed one or none is a 400 with a message."""
    user = UserFactory(email="me@example.com")
    client.force_login(user)
    response = change_email(client, address)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["email"])
    assert mail.outbox == []


def test_email_change_links_the_new_address_tells_the_old_and_is_unconfirmed_until_used(
    client, django_capture_on_commit_callbacks
):
    """Ensures that a change mails a confirmation link to the new address (after the commit)
    and a notice to the old one, records the change, and leaves the account unconfirmed (so
    not eligible for paid verification) until the new link is used."""
    user = UserFactory(email="old@example.com")
    email_confirmed(user)
    assert email_is_confirmed(user=user)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = change_email(client, "New.Me+blog@Example.com")
    assert response.status_code == 302
    assert len(mail.outbox) == 2  # queued after the commit (other callbacks: auth cache)
    user.refresh_from_db()
    assert user.email == "new.me+blog@example.com"
    assert (
        "Your email address is now new.me+blog@example.com"
        in client.get(response.url).content.decode()
    )

    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {("new.me+blog@example.com",), ("old@example.com",)}
    notice = by_recipient["old@example.com",]
    assert notice.subject == "Your email address was changed"
    assert "If you did not" in notice.body
    confirm_path = link_path(by_recipient["new.me+blog@example.com",])

    assert not email_is_confirmed(user=user)
    assert "email_unconfirmed" in [unmet.code for unmet in verification_eligibility(user=user)]
    event = SecurityEvent.objects.get(kind=EMAIL_CHANGED_EVENT, user=user)
    assert event.details == {"old_email": "old@example.com", "new_email": user.email}

    assert client.post(confirm_path).status_code == 302
    assert email_is_confirmed(user=user)
    assert "email_unconfirmed" not in [u.code for u in verification_eligibility(user=user)]


def test_email_change_keeps_a_live_verification(client, django_capture_on_commit_callbacks):
    """Ensures that a verified account keeps its badge through an email change (only buying
    verification needs a confirmed address)."""
    user = UserFactory()
    email_confirmed(user)
    verification_grant(user=user, actor=None, reason="press account")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert change_email(client, "press@example.com").status_code == 302
    user.refresh_from_db()
    assert user.is_verified
    assert not email_is_confirmed(user=user)


def test_email_change_voids_reset_links_sent_to_the_old_address(
    client, django_capture_on_commit_callbacks
):
    """Ensures that a reset link mailed before the change no longer works after it (Django's
    token is signed over the address)."""
    user = UserFactory(email="old@example.com")
    reset_request("old@example.com")
    reset_path = link_path(mail.outbox[0])
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert change_email(client, "new@example.com").status_code == 302
    _, response = reset_with_link(reset_path)
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_email_change_refused_past_five_an_hour(client, django_capture_on_commit_callbacks):
    """Ensures that an account can change its address 5 times an hour; the sixth try is a 429
    page and mails nobody."""
    user = UserFactory()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            assert change_email(client, f"me{n}@example.com").status_code == 302
        refused = change_email(client, "me5@example.com")
    assert_429(refused, "email_change", 5)
    assert "Too many email changes" in refused.content.decode()
    user.refresh_from_db()
    assert user.email == "me4@example.com"
    assert len(mail.outbox) == 10


def test_a_mail_server_outage_does_not_undo_or_fail_the_change(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    """Ensures that when the notice to the old address cannot be sent, the change stands and
    the person still gets the success page, not a 500."""
    from accounts import views

    def down(**kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(views, "email_change_notice_send", down)
    user = UserFactory()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = change_email(client, "new@example.com")
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).email == "new@example.com"
