"""Sign-up farming (issue 8): one mailbox holds one account, whatever spelling of it is typed
(case, "+tag", Gmail dots, googlemail.com); look-alike usernames are refused; many sign-ups
from one network are throttled.

Per-address sign-up throttling is covered in tests/access/test_ratelimits.py and not repeated
here: ``test_signup_refused_past_limit_per_ip`` (IPv4 /32), ``test_ipv6_same_64_shares_a_counter``
(IPv6 /64), ``test_forged_forwarded_for_is_not_a_new_key``. The IPv4 /24 case is below.
"""

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.forms import EmailChangeForm, add_service_errors
from accounts.models import EMAIL_TAKEN_MESSAGE, User
from accounts.selectors import email_canonical, user_email_taken
from tests.access.conftest import NOON
from tests.accounts.conftest import signup_data
from tests.factories import DEFAULT_PASSWORD, UserFactory
from verification import services as verification_services

SIGNUP = reverse("accounts:signup")
ADMIN_ADD = "/admin/accounts/user/add/"
pytestmark = pytest.mark.django_db
USERNAME_RULE = "ASCII letters, digits and underscores only"

# Other spellings of the mailboxes sam@example.com and jane.doe@gmail.com.
SAME_MAILBOX = [
    "Sam@Example.com",  # case
    "SAM@EXAMPLE.COM",
    "sam+promo@example.com",  # "+tag", any domain
    "Sam+a+b@example.com",
    '"sam"@example.com',  # needless quotes
    "janedoe@gmail.com",  # Gmail ignores dots
    "j.a.n.e.d.o.e@gmail.com",
    "jane.doe+farm1@gmail.com",
    "jane.doe@googlemail.com",  # googlemail.com is gmail.com
    "Jane.Doe+x@GoogleMail.com",
    "jane.doe@ｇｍａｉｌ.com",  # fullwidth domain: IDNA delivers it to gmail.com
]
# Other mailboxes: these may each have an account.
OTHER_MAILBOX = [
    "sam@example.org",
    "sam2@example.com",
    "s.am@example.com",  # dots count outside Gmail
    "samuel+sam@example.com",
    "jane-doe@gmail.com",
    "janedoe@outlook.com",
    "jane.doe@gmail.co",
]

# Look-alikes of ASCII names: Cyrillic а/і, Greek Α/ο, Latin alpha, fullwidth, zero width.
HOMOGLYPH_USERNAMES = [
    "\u0430dmin",  # "аdmin", Cyrillic а
    "\u0430lice",  # "аlice", Cyrillic а
    "al\u0456ce",  # "alіce", Ukrainian і
    "\u0391lice",  # "Αlice", Greek capital alpha
    "b\u03bfb",  # "bοb", Greek omicron
    "\u0251lice",  # "ɑlice", Latin alpha
    "\uff41\uff4c\uff49\uff43\uff45",  # "ａｌｉｃｅ", fullwidth
    "alice\u200b",  # a zero-width space after "alice"
]


@pytest.fixture
def holders(db):
    """The accounts that own the mailboxes sam@example.com and jane.doe@gmail.com."""
    return UserFactory(username="sam", email="sam@example.com"), UserFactory(
        username="jane", email="jane.doe@gmail.com"
    )


def email_change(user: User, email: str) -> EmailChangeForm:
    """Change the address the way a settings page does: the form, then the service, with the
    service's refusal shown on the form."""
    form = EmailChangeForm({"email": email})
    if form.is_valid():
        try:
            services.user_email_change(user=user, email=form.cleaned_data["email"])
        except ValidationError as exc:
            add_service_errors(form, exc)
    return form


# --- The canonical form -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Sam@Example.COM", "sam@example.com"),
        ("sam+news@example.com", "sam@example.com"),
        ("sam+a+b@example.com", "sam@example.com"),
        ("s.a.m+x@example.com", "s.a.m@example.com"),
        ("J.Doe+x@Gmail.com", "jdoe@gmail.com"),
        ("j.doe@googlemail.com", "jdoe@gmail.com"),
        ("j.doe@gmail.com.", "jdoe@gmail.com"),
        ("jane.doe@ｇｍａｉｌ.com", "janedoe@gmail.com"),
        ("a@bücher.de", "a@xn--bcher-kva.de"),
        ('"sam"@example.com', "sam@example.com"),
        ('"s am"@example.com', '"s am"@example.com'),
        ("+only@example.com", "+only@example.com"),
        ("  sam@example.com ", "sam@example.com"),
        ("", ""),
    ],
)
def test_email_canonical(typed, canonical):
    """Ensures that the canonical form folds exactly the spellings docs/security.md lists."""
    assert email_canonical(typed) == canonical


# --- Sign-up ------------------------------------------------------------------------------


@pytest.mark.parametrize("email", SAME_MAILBOX)
def test_signup_refuses_another_spelling_of_a_taken_mailbox(client, holders, email):
    """Ensures that a sign-up with any spelling of a mailbox that has an account is refused on
    the email field, with one sentence that does not say which spelling matched or whose it
    is, and creates nothing."""
    response = client.post(SIGNUP, signup_data(email=email))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["email"] == [EMAIL_TAKEN_MESSAGE]
    assert "username" not in errors
    page = response.content.decode()
    assert "sam@example.com" not in page and "jane.doe@gmail.com" not in page
    assert User.objects.count() == 2


@pytest.mark.parametrize("email", OTHER_MAILBOX)
def test_signup_allows_other_mailboxes(client, holders, email):
    """Ensures that addresses of other mailboxes still sign up."""
    response = client.post(SIGNUP, signup_data(email=email))
    assert response.status_code == 302, response.context["form"].errors
    assert User.objects.get(username="newcomer").email_canonical == email_canonical(email)


def test_signup_keeps_the_typed_address_and_stores_its_mailbox(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    """Ensures that the account keeps the address as typed (mail goes there, "+tag" and dots
    included) and stores the mailbox beside it."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, signup_data(email="Jane.Doe+Microblog@GoogleMail.com"))
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.email == "jane.doe+microblog@googlemail.com"
    assert user.email_canonical == "janedoe@gmail.com"
    assert mailoutbox[-1].to == ["jane.doe+microblog@googlemail.com"]


def test_signup_lost_race_is_a_form_error_not_a_500(client, holders, monkeypatch):
    """Ensures that when two sign-ups for one mailbox race (both pass the check), the unique
    constraint refuses the second and the person sees the email error, not a 500."""
    monkeypatch.setattr(services, "user_email_taken", lambda *args, **kwargs: False)
    response = client.post(SIGNUP, signup_data(email="sam+race@example.com"))
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [EMAIL_TAKEN_MESSAGE]
    assert User.objects.count() == 2


def test_every_way_of_creating_an_account_stores_the_mailbox(db):
    """Ensures that accounts made outside sign-up (createsuperuser, create_user, factories)
    store their mailbox too, so the constraint holds for them."""
    admin = User.objects.create_superuser("boss", "The.Boss+admin@GoogleMail.com", "x" * 12)
    assert admin.email_canonical == "theboss@gmail.com"
    assert User.objects.get(pk=admin.pk).email_canonical == "theboss@gmail.com"
    assert UserFactory(email="Other+x@Example.com").email_canonical == "other@example.com"
    assert user_email_taken("theboss+2@gmail.com")
    assert not user_email_taken("theboss@example.com")


# --- Changing the address -----------------------------------------------------------------


@pytest.mark.parametrize("email", SAME_MAILBOX)
def test_email_change_refuses_another_accounts_mailbox(holders, email):
    """Ensures that an account cannot move to another spelling of a mailbox that another
    account holds: the form shows the sentence, and nothing changes."""
    mover = UserFactory(username="mover", email="mover@example.net")
    form = email_change(mover, email)
    assert form.errors["email"] == [EMAIL_TAKEN_MESSAGE]
    stored = User.objects.get(pk=mover.pk)
    assert (stored.email, stored.email_canonical) == ("mover@example.net", "mover@example.net")
    assert (mover.email, mover.email_canonical) == ("mover@example.net", "mover@example.net")


@pytest.mark.parametrize("email", OTHER_MAILBOX)
def test_email_change_allows_other_mailboxes(holders, email):
    """Ensures that moving to a free mailbox works and stores its canonical form."""
    mover = UserFactory(username="mover", email="mover@example.net")
    assert not email_change(mover, email).errors
    stored = User.objects.get(pk=mover.pk)
    assert stored.email == email.lower()
    assert stored.email_canonical == email_canonical(email)


def test_email_change_within_ones_own_mailbox_and_frees_the_old_one(holders, client):
    """Ensures that an account may switch between spellings of its own mailbox, and that once
    it moves to another mailbox the old one is free for someone else."""
    sam, _ = holders
    assert not email_change(sam, "Sam+Microblog@example.com").errors
    assert User.objects.get(pk=sam.pk).email == "sam+microblog@example.com"
    assert client.post(SIGNUP, signup_data(email="sam@example.com")).status_code == 400

    assert not email_change(sam, "sam@example.org").errors
    assert client.post(SIGNUP, signup_data(email="sam@example.com")).status_code == 302


def test_email_change_lost_race_is_a_form_error(holders, monkeypatch):
    """Ensures that a change racing another account onto the same mailbox is refused by the
    constraint as a form error, and the account keeps its old address."""
    monkeypatch.setattr(services, "user_email_taken", lambda *args, **kwargs: False)
    mover = UserFactory(username="mover", email="mover@example.net")
    form = email_change(mover, "jane.doe+race@googlemail.com")
    assert form.errors["email"] == [EMAIL_TAKEN_MESSAGE]
    assert User.objects.get(pk=mover.pk).email == "mover@example.net"
    assert mover.email_canonical == "mover@example.net"


def test_email_change_refuses_bad_addresses_in_the_service_too(holders):
    """Ensures that the service checks the address itself, so a caller without the form cannot
    store garbage or an over-long address (which PostgreSQL would refuse with a 500)."""
    mover = UserFactory(username="mover", email="mover@example.net")
    for bad in ["not-an-email", "", f"{'a' * 64}@{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 10}.com"]:
        with pytest.raises(ValidationError) as refused:
            services.user_email_change(user=mover, email=bad)
        assert "email" in refused.value.message_dict
    assert User.objects.get(pk=mover.pk).email == "mover@example.net"


# --- The admin ----------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["SAM@example.com", "sam+admin@example.com", "janedoe@gmail.com"])
def test_admin_add_user_refuses_a_taken_mailbox(admin_client, holders, email):
    """Ensures that an admin adding an account is refused on the email field too (one
    message, no 500)."""
    response = admin_client.post(
        ADMIN_ADD,
        {
            "username": "added",
            "email": email,
            "usable_password": "true",
            "password1": DEFAULT_PASSWORD,
            "password2": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"email": [EMAIL_TAKEN_MESSAGE]}
    assert not User.objects.filter(username="added").exists()


def test_admin_change_refuses_a_taken_mailbox_and_stores_a_free_one(admin_client, holders):
    """Ensures that changing an account's address in the admin is refused for another
    account's mailbox, and stores the new mailbox when it is free."""
    mover = UserFactory(username="mover", email="mover@example.net")
    url = f"/admin/accounts/user/{mover.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data.update({"subscriptions-TOTAL_FORMS": "0", "subscriptions-INITIAL_FORMS": "0"})
    data.pop("last_login", None)
    data.pop("date_joined", None)
    data.pop("user_permissions", None)
    data.pop("groups", None)

    refused = admin_client.post(url, {**data, "email": "Jane.Doe@googlemail.com"})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"email": [EMAIL_TAKEN_MESSAGE]}
    assert User.objects.get(pk=mover.pk).email == "mover@example.net"

    moved = admin_client.post(url, {**data, "email": "mover.two+x@gmail.com"})
    assert moved.status_code == 302
    stored = User.objects.get(pk=mover.pk)
    assert (stored.email, stored.email_canonical) == ("mover.two+x@gmail.com", "movertwo@gmail.com")


def test_duplicate_from_before_the_rule_keeps_working(admin_client, holders):
    """Ensures that an account left with a blank mailbox (a duplicate that existed before the
    rule, as migration 0005 leaves it) can still be saved and edited, in the services and
    in the admin, and gets its mailbox checked only when its address changes."""
    legacy = UserFactory(username="legacy", email="legacy@example.net")
    User.objects.filter(pk=legacy.pk).update(email="sam+old@example.com", email_canonical="")
    legacy = User.objects.get(pk=legacy.pk)

    services.user_update_profile(user=legacy, display_name="Still here", bio="")
    legacy.is_active = True
    legacy.save()  # a full save of an unchanged address leaves the mailbox blank
    assert User.objects.get(pk=legacy.pk).email_canonical == ""
    legacy.validate_constraints()  # what an admin form checks: no complaint

    assert email_change(legacy, "sam+new@example.com").errors["email"] == [EMAIL_TAKEN_MESSAGE]
    assert not email_change(legacy, "legacy@example.org").errors
    assert User.objects.get(pk=legacy.pk).email_canonical == "legacy@example.org"


# --- Usernames ----------------------------------------------------------------------------


@pytest.mark.parametrize("username", HOMOGLYPH_USERNAMES)
def test_signup_refuses_homoglyph_usernames(client, username):
    """Ensures that a username with a character that only looks like ASCII is refused with a
    sentence saying which characters are allowed, so "аdmin" cannot pose as "admin"."""
    UserFactory(username="alice")
    UserFactory(username="bob")
    response = client.post(SIGNUP, signup_data(username=username))
    assert response.status_code == 400
    assert USERNAME_RULE in " ".join(response.context["form"].errors["username"])
    assert User.objects.count() == 2


@pytest.mark.parametrize("username", HOMOGLYPH_USERNAMES)
def test_rename_refuses_homoglyph_usernames(db, username):
    """Ensures that a rename cannot reach a look-alike name either."""
    user = UserFactory(username="plain")
    with pytest.raises(ValidationError) as refused:
        verification_services.user_username_change(user=user, new_username=username)
    assert USERNAME_RULE in " ".join(refused.value.messages)
    assert User.objects.get(pk=user.pk).username == "plain"


# --- Many sign-ups from one network -------------------------------------------------------


def test_many_signups_from_one_ipv4_24_are_throttled():
    """Ensures that a farm rotating through the addresses of one IPv4 /24 (each address under
    its own limit of 5) is refused once the /24 has made 20 sign-ups in the hour."""
    statuses = []
    with time_machine.travel(NOON, tick=False):
        for n in range(1, 51):
            client = Client(REMOTE_ADDR=f"198.51.100.{n}")
            data = signup_data(username=f"farm{n}", email=f"farm{n}@example.com")
            statuses.append(client.post(SIGNUP, data).status_code)
            if statuses[-1] == 429:
                break
    assert statuses[-1] == 429, statuses
    assert len(statuses) == 21 and User.objects.filter(username__startswith="farm").count() == 20
    # Another network is not affected.
    other = Client(REMOTE_ADDR="203.0.113.9")
    with time_machine.travel(NOON, tick=False):
        response = other.post(SIGNUP, signup_data(username="elsewhere", email="e@example.com"))
    assert response.status_code == 302


# --- The migration ------------------------------------------------------------------------

BEFORE = ("accounts", "0004_seed_plan")
AFTER = ("accounts", "0006_user_email_canonical_unique")  # 0005 fills, 0006 constrains


# Migrating needs a real transaction (SQLite's schema editor refuses to run inside one);
# serialized_rollback, as the other transactional tests use, puts the seeded rows back after.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_backfills_the_mailbox_and_keeps_duplicates_working():
    """Ensures that migrations 0005-0006 give existing accounts their mailbox, leave a later
    duplicate of a mailbox blank (the oldest account keeps it), change no address, and can
    add the constraint over such rows (on PostgreSQL too: rows with a deferred foreign key)."""
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([BEFORE])
        old_apps = executor.loader.project_state([BEFORE]).apps
        old = old_apps.get_model("accounts", "User")
        tier = old_apps.get_model("accounts", "Tier").objects.create(slug="farm-test", name="F")
        rows = [
            ("ann", "Ann@Example.com"),
            ("ann_again", "ann+old@example.com"),  # same mailbox, newer: left blank
            ("jd", "j.doe@gmail.com"),
            ("jd_again", "JDoe@googlemail.com"),  # same mailbox, newer: left blank
            ("zed", "zed+news@example.com"),
            ("nomail", ""),
        ]
        ids = {
            name: old.objects.create(
                username=name, email=email, password="!", tier_override=tier
            ).pk
            for name, email in rows
        }

        executor = MigrationExecutor(connection)  # a fresh loader sees what is applied now
        executor.migrate([AFTER])
        new = executor.loader.project_state([AFTER]).apps.get_model("accounts", "User")
        stored = {u.username: (u.email, u.email_canonical) for u in new.objects.all()}
        assert stored == {
            "ann": ("Ann@Example.com", "ann@example.com"),
            "ann_again": ("ann+old@example.com", ""),
            "jd": ("j.doe@gmail.com", "jdoe@gmail.com"),
            "jd_again": ("JDoe@googlemail.com", ""),
            "zed": ("zed+news@example.com", "zed@example.com"),
            "nomail": ("", ""),
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    # After the migration, with today's code: the blank duplicate still works, the mailbox is
    # still refused to newcomers.
    services.user_update_profile(
        user=User.objects.get(pk=ids["ann_again"]), display_name="Ann", bio=""
    )
    assert user_email_taken("ann+new@example.com")
    assert user_email_taken("jdoe+x@gmail.com")
    with pytest.raises(ValidationError):
        services.user_create(username="ann3", email="ANN+3@example.com", password=DEFAULT_PASSWORD)
